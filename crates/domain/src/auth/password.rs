//! [`Password`]: a plain-text password that passed the password rules.

use std::fmt;

use crate::auth::common_passwords::is_common;
use crate::email::EmailAddress;
use crate::error::{FieldError, PasswordProblem, Rule, Unit};

/// A new password that passed every rule a password can be judged by alone:
///
/// - 8 to 72 bytes. 72 is bcrypt's limit; longer passwords are refused rather than silently
///   truncated, so every byte a user types counts.
/// - no control character (Unicode category Cc, NUL included): bcrypt stops at a NUL, so
///   eight NULs would be equal to one.
/// - not one character repeated (`aaaaaaaa`).
/// - not on the shipped list of common passwords, ignoring case.
///
/// The rules that need the account (not the username, the email or its local part) are
/// [`Password::unlike`], applied once the account is known.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks the rules above, reporting problems against the body field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        match raw.len() {
            0..=7 => return Err(FieldError::new(field, Rule::TooShort { min: 8, unit: Unit::Bytes })),
            8..=72 => {}
            _ => return Err(FieldError::new(field, Rule::TooLong { max: 72, unit: Unit::Bytes })),
        }
        if raw.chars().any(char::is_control) {
            return Err(weak(field, PasswordProblem::ControlCharacter));
        }
        let mut chars = raw.chars();
        if let Some(first) = chars.next()
            && chars.all(|c| c == first)
        {
            return Err(weak(field, PasswordProblem::Repeated));
        }
        if is_common(raw) {
            return Err(weak(field, PasswordProblem::Common));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Refuses a password equal, ignoring case, to the account's username, its email address
    /// or that address's local part: the first things a guesser tries.
    pub fn unlike(self, field: &str, username: &str, email: &EmailAddress) -> Result<Self, FieldError> {
        let email = email.as_str();
        let local = email.rsplit_once('@').map_or(email, |(local, _)| local);
        let password = self.0.to_lowercase();
        if [username, email, local].iter().any(|personal| personal.to_lowercase() == password) {
            return Err(weak(field, PasswordProblem::Personal));
        }
        Ok(self)
    }

    /// The plain text, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

fn weak(field: &str, problem: PasswordProblem) -> FieldError {
    FieldError::new(field, Rule::WeakPassword(problem))
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &str) -> &'static str {
        match Password::parse("password", raw).unwrap_err().rule {
            Rule::TooLong { .. } => "string_too_long",
            Rule::WeakPassword(PasswordProblem::ControlCharacter) => "password_control_character",
            Rule::WeakPassword(PasswordProblem::Repeated) => "password_repeated",
            Rule::WeakPassword(PasswordProblem::Common) => "password_common",
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn length_is_counted_in_bytes() {
        assert!(Password::parse("password", "1234567").is_err());
        assert!(Password::parse("password", "x1234567").is_ok());
        assert!(Password::parse("password", &"xy".repeat(36)).is_ok());
        assert_eq!(kind(&"xy".repeat(37)[..73]), "string_too_long");
        // 23 three-byte characters and 3 ASCII ones are 72 bytes; 24 and 1 are 73.
        assert!(Password::parse("password", &format!("{}abc", "€".repeat(23))).is_ok());
        assert_eq!(kind(&format!("{}a", "€".repeat(24))), "string_too_long");
    }

    #[test]
    fn control_characters_are_refused_nul_included() {
        for raw in ["\0\0\0\0\0\0\0\0", "good pass\0word", "tab\there ok", "line\nbreak ok", "del\u{7f}eted ok"] {
            assert_eq!(kind(raw), "password_control_character", "{raw:?}");
        }
        // U+0085 (NEXT LINE) is in Cc too.
        assert_eq!(kind("next\u{85}line ok"), "password_control_character");
    }

    #[test]
    fn one_repeated_character_is_refused() {
        assert_eq!(kind("aaaaaaaa"), "password_repeated");
        assert_eq!(kind(&"€".repeat(10)), "password_repeated");
        assert!(Password::parse("password", "aaaaaaab").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_ignoring_case() {
        for raw in ["password", "PassWord1", "12345678", "qwertyuiop", "iloveyou1"] {
            assert_eq!(kind(raw), "password_common", "{raw}");
        }
    }

    #[test]
    fn a_password_like_the_account_is_refused() {
        let email = EmailAddress::parse("email", "Ada.Lovelace@Example.org").unwrap();
        for raw in ["ADA_LOVE", "ada.lovelace", "ada.lovelace@example.org"] {
            let password = Password::parse("new_password", raw).unwrap();
            let error = password.unlike("new_password", "Ada_Love", &email).unwrap_err();
            assert_eq!(
                (error.field().as_str(), error.rule.clone()),
                ("new_password", Rule::WeakPassword(PasswordProblem::Personal)),
                "{raw}"
            );
        }
        let fine = Password::parse("password", "ada lovelace 1815").unwrap();
        assert!(fine.unlike("password", "Ada_Love", &email).is_ok());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let password = Password::parse("password", "hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
