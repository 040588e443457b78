//! [`AuthUseCases`]: what inbound adapters (REST today, CardDAV next) may ask of authentication.

use async_trait::async_trait;

use super::ports::{PasswordHasher, TokenCodec, TokenStore};
use super::service::{AuthService, ConfirmationOutcome, PasswordResetInput, RegistrationInput};
use super::tokens::TokenPair;
use crate::EmailAddress;
use crate::clock::Clock;
use crate::error::Error;
use crate::mail::{MailKind, MailOutbox, MailRequest};
use crate::user::{User, UserRepository};

/// The authentication use cases as an object-safe trait, so an inbound adapter holds an
/// `Arc<dyn AuthUseCases>` and never names the adapters behind it. [`AuthService`] implements
/// it; tests of inbound adapters use `MockAuthUseCases` (feature `mocks`). Futures are not
/// `Send`: actix-web runs each request on one worker thread.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait(?Send)]
pub trait AuthUseCases: Send + Sync {
    /// See [`AuthService::register`].
    async fn register(&self, input: RegistrationInput) -> Result<User, Error>;
    /// See [`AuthService::login`].
    async fn login(&self, login: &str, password: &str) -> Result<TokenPair, Error>;
    /// See [`AuthService::refresh`].
    async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Error>;
    /// See [`AuthService::logout`].
    async fn logout(&self, refresh_token: &str) -> Result<(), Error>;
    /// See [`AuthService::record_mail_request`].
    async fn record_mail_request(&self, kind: MailKind, address: EmailAddress) -> Result<MailRequest, Error>;
    /// See [`AuthService::handle_mail_request`].
    async fn handle_mail_request(&self, request: MailRequest) -> Result<(), Error>;
    /// See [`AuthService::handle_left_mail_requests`].
    async fn handle_left_mail_requests(&self, limit: i64) -> Result<usize, Error>;
    /// See [`AuthService::request_password_reset`].
    async fn request_password_reset(&self, email: EmailAddress) -> Result<(), Error>;
    /// See [`AuthService::reset_password`].
    async fn reset_password(&self, input: PasswordResetInput) -> Result<User, Error>;
    /// See [`AuthService::confirm_email`].
    async fn confirm_email(&self, token: &str) -> Result<ConfirmationOutcome, Error>;
    /// See [`AuthService::request_confirmation_email`].
    async fn request_confirmation_email(&self, email: EmailAddress) -> Result<(), Error>;
    /// See [`AuthService::authenticate`].
    async fn authenticate(&self, access_token: &str) -> Result<User, Error>;
}

#[async_trait(?Send)]
impl<U, H, T, S, M, C> AuthUseCases for AuthService<U, H, T, S, M, C>
where
    U: UserRepository,
    H: PasswordHasher,
    T: TokenCodec,
    S: TokenStore,
    M: MailOutbox,
    C: Clock,
{
    async fn register(&self, input: RegistrationInput) -> Result<User, Error> {
        AuthService::register(self, input).await
    }

    async fn login(&self, login: &str, password: &str) -> Result<TokenPair, Error> {
        AuthService::login(self, login, password).await
    }

    async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Error> {
        AuthService::refresh(self, refresh_token).await
    }

    async fn logout(&self, refresh_token: &str) -> Result<(), Error> {
        AuthService::logout(self, refresh_token).await
    }

    async fn record_mail_request(&self, kind: MailKind, address: EmailAddress) -> Result<MailRequest, Error> {
        AuthService::record_mail_request(self, kind, address).await
    }

    async fn handle_mail_request(&self, request: MailRequest) -> Result<(), Error> {
        AuthService::handle_mail_request(self, request).await
    }

    async fn handle_left_mail_requests(&self, limit: i64) -> Result<usize, Error> {
        AuthService::handle_left_mail_requests(self, limit).await
    }

    async fn request_password_reset(&self, email: EmailAddress) -> Result<(), Error> {
        AuthService::request_password_reset(self, email).await
    }

    async fn reset_password(&self, input: PasswordResetInput) -> Result<User, Error> {
        AuthService::reset_password(self, input).await
    }

    async fn confirm_email(&self, token: &str) -> Result<ConfirmationOutcome, Error> {
        AuthService::confirm_email(self, token).await
    }

    async fn request_confirmation_email(&self, email: EmailAddress) -> Result<(), Error> {
        AuthService::request_confirmation_email(self, email).await
    }

    async fn authenticate(&self, access_token: &str) -> Result<User, Error> {
        AuthService::authenticate(self, access_token).await
    }
}
