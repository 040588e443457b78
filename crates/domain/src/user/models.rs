//! User entities and the value objects they are made of.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::email::EmailAddress;
use crate::error::{FieldError, Rule};

/// A user's database identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A login name: 3–50 ASCII letters, digits, `_`, `.` or `-`, kept as given.
///
/// ASCII only, so no name can pass for another with a look-alike letter from another script
/// (`аdmin` with a Cyrillic `а` is refused rather than becoming a second `admin`). Uniqueness is case-insensitive and enforced by the storage layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// Parses a username from the request body.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if !(3..=50).contains(&raw.chars().count()) {
            return Err(FieldError::new("username", Rule::Length { min: 3, max: 50 }));
        }
        if !raw.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')) {
            return Err(FieldError::new(
                "username",
                Rule::Pattern { allowed: "ASCII letters, digits, '_', '.' and '-'" },
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The username as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a user may do. New accounts are always [`Role::User`]; only an operator grants
/// [`Role::Admin`], never a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// An ordinary account.
    #[default]
    User,
    /// An administrator, who may also change their avatar.
    Admin,
}

impl Role {
    /// The role's stable name, as stored and as shown to clients.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Admin => "admin",
        }
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "user" => Ok(Role::User),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?}: expected user or admin")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored password hash (bcrypt's modular crypt format). Never leaves the server.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

/// A registered user, as every part of the system sees it: no secrets inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Database identity.
    pub id: UserId,
    /// Login name, as given at registration.
    pub username: String,
    /// Email address, as given at registration.
    pub email: EmailAddress,
    /// URL of the user's picture, if any.
    pub avatar: Option<String>,
    /// What the user may do.
    pub role: Role,
    /// Whether the email address was confirmed; unconfirmed users cannot log in.
    pub confirmed: bool,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// Bumped whenever every session must end (a password reset); access tokens carry the
    /// version they were issued under and are refused once it changes.
    pub token_version: i64,
}

/// A user together with their password hash, read only to check a password.
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// Their bcrypt hash.
    pub password_hash: PasswordHash,
}

/// Everything needed to store a new account; built by the auth service after validation.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Validated login name.
    pub username: Username,
    /// Validated email address.
    pub email: EmailAddress,
    /// Hash of the validated password.
    pub password_hash: PasswordHash,
    /// Default picture URL.
    pub avatar: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_contract() {
        for ok in ["abc", "Ada_L.o-v3", "ZOE", &"x".repeat(50)] {
            assert_eq!(Username::parse(ok).unwrap().as_str(), ok);
        }
        // "\u{430}dmin" starts with a Cyrillic а, a look-alike of the Latin a.
        for bad in ["ab", "", "with space", "semi;colon", "a@b", "Zoë", "\u{430}dmin", "١٢٣", &"x".repeat(51)] {
            assert_eq!(Username::parse(bad).unwrap_err().field(), "username", "{bad}");
        }
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [Role::User, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
            assert_eq!(role.to_string(), role.as_str());
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Admin".parse::<Role>().is_err());
    }

    #[test]
    fn password_hashes_stay_out_of_debug_output() {
        let hash = PasswordHash("$2b$12$secret".into());
        assert!(!format!("{hash:?}").contains("secret"));
    }
}
