//! The ports authentication needs: password hashing, token signing and token memory.

use chrono::{DateTime, Utc};

use super::password::Password;
use super::tokens::{Claims, TokenKind};
use crate::error::Error;
use crate::user::{PasswordHash, UserId};

/// Hashes and checks passwords. Implementations run the (deliberately slow) work off the
/// async executor, so a login never stalls other requests.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes a new password.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, Error>;

    /// Whether `candidate` matches `hash`. A malformed hash is an error, a mismatch `Ok(false)`.
    async fn verify(&self, candidate: &str, hash: &PasswordHash) -> Result<bool, Error>;

    /// A hash no password will ever match at the usual cost, verified against when a login
    /// names an unknown account so that the answer takes as long as for a known one.
    fn decoy_hash(&self) -> PasswordHash;
}

/// Signs and verifies tokens. The adapter owns the cryptography and makes every token unique;
/// the domain owns the rules (kinds, expiry).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenCodec: Send + Sync + 'static {
    /// Signs the claims into a URL-safe string.
    fn encode(&self, claims: &Claims) -> Result<String, Error>;

    /// Verifies the signature and that the token is of `expected` kind, and returns its claims.
    /// Expiry is not checked here: the service checks it against its clock. `None` for any
    /// token that is malformed, forged or of another kind.
    fn decode(&self, token: &str, expected: TokenKind) -> Option<Claims>;
}

/// What presenting a refresh token for rotation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshRotation {
    /// The token was live; it is now revoked and replaced by the new one.
    Rotated,
    /// The token was already rotated: a replay of a used token, treated as theft.
    Reused,
    /// No live token has this fingerprint (never issued, expired, purged, or revoked without
    /// being rotated: by its logout, a password reset or a theft's sweep).
    Unknown,
}

/// Server-side memory of refresh and password-reset tokens, by fingerprint only (see
/// [`fingerprint`](super::fingerprint)). Every state change is a single atomic statement, so
/// concurrent requests cannot use one token twice.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenStore: Send + Sync + 'static {
    /// Remembers a newly issued refresh token.
    async fn store_refresh(&self, user: UserId, fingerprint: &str, expires_at: DateTime<Utc>) -> Result<(), Error>;

    /// Revokes the live refresh token `old` (not expired at `now`) and stores `new` as its
    /// successor, atomically. Only one of any number of concurrent calls with the same `old`
    /// can see [`RefreshRotation::Rotated`].
    async fn rotate_refresh(
        &self,
        old: &str,
        new: &str,
        new_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RefreshRotation, Error>;

    /// Revokes one live refresh token (logout); same outcomes as rotation, minus the successor.
    async fn revoke_refresh(&self, fingerprint: &str, now: DateTime<Utc>) -> Result<RefreshRotation, Error>;

    /// Revokes every refresh token of the user: after a theft or a password reset.
    async fn revoke_all_refresh(&self, user: UserId) -> Result<(), Error>;

    /// Remembers a newly issued password-reset token.
    async fn store_reset(&self, user: UserId, fingerprint: &str, expires_at: DateTime<Utc>) -> Result<(), Error>;

    /// Marks the reset token used if it is unused and not expired at `now`, and returns its
    /// user; `None` otherwise. A reset token therefore works once. Every other unused reset
    /// token of that user is marked used in the same step, so an older link dies with it.
    async fn consume_reset(&self, fingerprint: &str, now: DateTime<Utc>) -> Result<Option<UserId>, Error>;

    /// Deletes tokens that expired before `now`; returns how many.
    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, Error>;
}
