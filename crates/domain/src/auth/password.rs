//! [`Password`]: a plain-text password that passed the length rules.

use std::fmt;

use crate::error::{FieldError, Rule, Unit};

/// A new password: 8 to 72 bytes. 72 is bcrypt's limit; longer passwords are refused rather
/// than silently truncated, so every byte a user types counts.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks the length rules, reporting problems against the body field `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        match raw.len() {
            0..=7 => Err(FieldError::new(field, Rule::TooShort { min: 8, unit: Unit::Bytes })),
            8..=72 => Ok(Self(raw.to_owned())),
            _ => Err(FieldError::new(field, Rule::TooLong { max: 72, unit: Unit::Bytes })),
        }
    }

    /// The plain text, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_counted_in_bytes() {
        assert!(Password::parse("password", "1234567").is_err());
        assert!(Password::parse("password", "12345678").is_ok());
        assert!(Password::parse("password", &"x".repeat(72)).is_ok());
        assert_eq!(
            Password::parse("password", &"x".repeat(73)).unwrap_err().rule,
            Rule::TooLong { max: 72, unit: Unit::Bytes }
        );
        // 24 three-byte characters are 72 bytes; one more is too long.
        assert!(Password::parse("password", &"€".repeat(24)).is_ok());
        assert!(Password::parse("password", &"€".repeat(25)).is_err());
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let password = Password::parse("password", "hunter2hunter2").unwrap();
        assert!(!format!("{password:?}").contains("hunter2"));
    }
}
