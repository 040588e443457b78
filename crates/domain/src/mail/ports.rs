//! The port that delivers mail.

use super::templates::Email;
use crate::error::Error;

/// Delivers emails to users.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Mailer: Send + Sync + 'static {
    /// Sends one email; an error means it was not delivered to the mail server.
    async fn send(&self, email: Email) -> Result<(), Error>;
}
