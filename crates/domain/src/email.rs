//! [`EmailAddress`], shared by users and contacts, and [`fold_case`], how addresses and login
//! names are compared ignoring case.

use std::fmt;

use crate::error::{EmailProblem, FieldError, Rule};

/// The longest address the API accepts, the practical limit of SMTP paths.
pub const MAX_EMAIL_LENGTH: usize = 254;

/// A syntactically valid email address (`local@domain`, with a dot in the domain).
///
/// It keeps the text exactly as sent; comparisons of addresses are case-insensitive, which
/// the storage layer enforces with unique indexes on the lower-cased value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses `raw`, reporting problems against the request field `field`.
    ///
    /// ```
    /// use contacts_domain::EmailAddress;
    /// assert!(EmailAddress::parse("email", "ada@example.org").is_ok());
    /// assert!(EmailAddress::parse("email", "ada@localhost").is_err());
    /// ```
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let invalid = |problem| FieldError::new(field, Rule::InvalidEmail(problem));
        if raw.chars().count() > MAX_EMAIL_LENGTH {
            return Err(invalid(EmailProblem::TooLong { max: MAX_EMAIL_LENGTH }));
        }
        let Some((local, domain)) = raw.split_once('@') else {
            return Err(invalid(EmailProblem::NoAt));
        };
        let well_formed = !local.is_empty()
            && local.len() <= 64
            && !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        if well_formed { Ok(Self(raw.to_owned())) } else { Err(invalid(EmailProblem::Malformed)) }
    }

    /// Wraps an address read back from storage, where it was validated on the way in.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    /// The address as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `text` with every character lower-cased on its own (Unicode's simple case mapping), the
/// form in which addresses and login names are compared ignoring case.
///
/// It is what the store's `lower()` does, so a key built in process (the login throttle's, the
/// mail flood guard's) names exactly the set of spellings the store takes for one account: Rust's
/// `str::to_lowercase` differs from it on `İ` (U+0130, which it makes `i` and a combining dot:
/// each one in a login name would double that name's failure budget) and on a final `Σ` (`ς`).
///
/// ```
/// use contacts_domain::email::fold_case;
/// assert_eq!(fold_case("bİLL"), fold_case("bill"));
/// assert_eq!(fold_case("ΟΔΟΣ"), "οδοσ");
/// ```
pub fn fold_case(text: &str) -> String {
    text.chars().map(|c| c.to_lowercase().next().unwrap_or(c)).collect()
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_as_sent() {
        for ok in ["a@b.co", "Ada.Lovelace+tag@Example.ORG", "x_y-z@sub.domain-1.io"] {
            assert_eq!(EmailAddress::parse("email", ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_malformed_addresses() {
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a@b@c.com",
            "a b@c.com",
            "a@b..com",
            "a@.b.com",
            ".a@b.com",
            "a..b@c.com",
            "a@-b.com",
            long.as_str(),
        ] {
            let err = EmailAddress::parse("email", bad).unwrap_err();
            assert_eq!(err.field(), "email", "{bad}");
        }
    }

    #[test]
    fn limit_is_254_characters() {
        let at_limit = format!("{}@{}.com", "a".repeat(60), "b".repeat(254 - 65));
        assert_eq!(at_limit.len(), 254);
        assert!(EmailAddress::parse("email", &at_limit).is_ok());
        let over = format!("a{at_limit}");
        assert!(EmailAddress::parse("email", &over).is_err());
    }
}
