//! Authentication: registration, email confirmation, login and access-token checks.

mod emails;
mod password;
mod ports;
mod service;
mod tokens;

pub use emails::Email;
pub use password::Password;
pub use ports::{Mailer, PasswordHasher, TokenCodec};
#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockMailer, MockPasswordHasher, MockTokenCodec};
pub use service::{AuthService, AuthSettings, ConfirmationOutcome, RegistrationInput};
pub use tokens::{Claims, TokenKind, TokenPair};
