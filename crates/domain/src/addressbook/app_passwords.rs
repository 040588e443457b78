//! App passwords: random secrets a CardDAV client signs in with instead of the account
//! password. Shown once, kept as a SHA-256 fingerprint, checked without bcrypt (a sync sends
//! one with every request), revocable one by one, all revoked by a password reset (the store
//! does that with the password change).

use base64::Engine;
use chrono::{DateTime, Utc};

use crate::auth::fingerprint;
use crate::clock::Clock;
use crate::error::{Error, FieldError, Rule};
use crate::user::{User, UserId};

use super::ports::AppPasswordStore;

/// Longest name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// How old a recorded use must be before a new one is written. A sync client signs in with its
/// app password on every request; recording each would make every CardDAV read a database write
/// (a row version, a WAL record, a flushed commit). `last_used_at` is therefore exact to this.
pub const USE_RECORDED_EVERY: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Random bytes in a secret (256 bits; the contract asks for at least 128).
const SECRET_BYTES: usize = 32;

/// An app password as listed (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    /// Its id, for revoking it.
    pub id: i64,
    /// The name its owner gave it (the device, say).
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last signed in, if ever, to within [`USE_RECORDED_EVERY`].
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new app password with its secret, shown this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedAppPassword {
    /// What was stored.
    pub password: AppPassword,
    /// The secret itself.
    pub secret: String,
}

/// The app password use cases.
#[derive(Debug, Clone)]
pub struct AppPasswordService<S, C> {
    store: S,
    clock: C,
}

impl<S: AppPasswordStore, C: Clock> AppPasswordService<S, C> {
    /// A service over its store.
    pub fn new(store: S, clock: C) -> Self {
        Self { store, clock }
    }

    /// Makes an app password named `name` (1–100 characters, trimmed, one line without control
    /// characters: it is shown in lists, and NUL cannot be stored at all) for `owner` as the
    /// request read it; [`Error::Unauthenticated`] when the owner's sessions ended meanwhile (a
    /// password reset), as the request would have been refused a moment later.
    pub async fn create(&self, owner: &User, name: Option<String>) -> Result<CreatedAppPassword, Error> {
        let name = name.ok_or_else(|| Error::invalid(FieldError::missing("name")))?;
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(Error::invalid(FieldError::new("name", Rule::Length { min: 1, max: MAX_NAME_CHARS })));
        }
        if name.chars().any(char::is_control) {
            return Err(Error::invalid(FieldError::new(
                "name",
                Rule::ControlCharacters { line_breaks_allowed: false },
            )));
        }
        let mut bytes = [0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|e| Error::unexpected(e.to_string()))?;
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let stored = self.store.insert(owner.id, owner.token_version, name, &fingerprint(&secret)).await?;
        let password = stored.ok_or(Error::Unauthenticated)?;
        Ok(CreatedAppPassword { password, secret })
    }

    /// The owner's app passwords.
    pub async fn list(&self, owner: UserId) -> Result<Vec<AppPassword>, Error> {
        self.store.list(owner).await
    }

    /// Revokes one; [`Error::NotFound`] when it is not the owner's.
    pub async fn revoke(&self, owner: UserId, id: i64) -> Result<(), Error> {
        if self.store.delete(owner, id).await? { Ok(()) } else { Err(Error::NotFound("App password not found")) }
    }

    /// The user `login` (username or email) signs in as with `secret`, or
    /// [`Error::InvalidCredentials`] (which the login throttle counts).
    pub async fn verify(&self, login: &str, secret: &str) -> Result<(UserId, String), Error> {
        // A NUL cannot be in any stored login; asking the store would only be refused by it.
        if login.is_empty() || secret.is_empty() || login.contains('\0') {
            return Err(Error::InvalidCredentials);
        }
        self.store.verify(login, &fingerprint(secret), self.clock.now()).await?.ok_or(Error::InvalidCredentials)
    }
}

#[cfg(test)]
mod tests;
