//! Authentication: registration, email confirmation, login and access-token checks.

mod common_passwords;
mod emails;
mod password;
mod ports;
mod service;
mod tokens;

pub use emails::{Email, escape_html};
pub use password::Password;
pub use ports::{Mailer, PasswordHasher, RefreshRotation, TokenCodec, TokenStore};
#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockMailer, MockPasswordHasher, MockTokenCodec, MockTokenStore};
pub use service::{AuthPorts, AuthService, AuthSettings, ConfirmationOutcome, PasswordResetInput, RegistrationInput};
pub use tokens::{Claims, TokenKind, TokenPair, fingerprint};
