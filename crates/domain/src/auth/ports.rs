//! The ports authentication needs: password hashing, token signing and mail delivery.

use super::emails::Email;
use super::password::Password;
use super::tokens::{Claims, TokenKind};
use crate::error::Error;
use crate::user::PasswordHash;

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

/// Delivers emails to users.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Mailer: Send + Sync + 'static {
    /// Sends one email; an error means it was not delivered to the mail server.
    async fn send(&self, email: Email) -> Result<(), Error>;
}
