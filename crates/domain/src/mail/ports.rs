//! The port that delivers mail.

use super::templates::Email;
use crate::error::Error;

/// Delivers emails to users.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Mailer: Send + Sync + 'static {
    /// Sends one email; an error means it was not delivered to the mail server. `key` names the
    /// mail across its attempts (the outbox row): every attempt carries the same `Message-ID`
    /// made of it, so a receiver can tell a second copy of a mail whose first attempt was taken
    /// but not acknowledged in time.
    async fn send(&self, email: Email, key: &str) -> Result<(), Error>;
}
