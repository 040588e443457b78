//! Authentication: registration, email confirmation, login and access-token checks.

mod common_passwords;
mod password;
mod ports;
mod service;
mod tokens;
mod use_cases;

pub use password::Password;
#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockPasswordHasher, MockTokenCodec, MockTokenStore};
pub use ports::{PasswordHasher, RefreshRotation, TokenCodec, TokenStore};
pub use service::{
    AuthPorts, AuthService, AuthSettings, ConfirmationOutcome, PasswordResetInput, RegistrationInput, requested_address,
};
pub use tokens::{Claims, TokenKind, TokenPair, fingerprint};
pub use use_cases::AuthUseCases;
#[cfg(any(test, feature = "mocks"))]
pub use use_cases::MockAuthUseCases;
