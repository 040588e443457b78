//! [`AuthService`]: the rules of registration, confirmation, login and token checks.

use chrono::Duration;
use sha2::{Digest, Sha256};

use super::emails::Email;
use super::password::Password;
use super::ports::{Mailer, PasswordHasher, TokenCodec};
use super::tokens::{Claims, TokenKind, TokenPair};
use crate::clock::Clock;
use crate::email::EmailAddress;
use crate::error::{Error, Problems, required};
use crate::user::{NewUser, User, UserRepository, Username};

/// Settings that shape tokens and links.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Public base URL of the service, without a trailing slash; every link in an email
    /// starts with it (never with the request's Host header).
    pub base_url: String,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Lifetime of email-confirmation tokens.
    pub email_token_ttl: Duration,
}

/// A registration request as received: fields may be missing, nothing is validated yet.
#[derive(Debug, Clone, Default)]
pub struct RegistrationInput {
    /// Requested username.
    pub username: Option<String>,
    /// Email address.
    pub email: Option<String>,
    /// Plain-text password.
    pub password: Option<String>,
}

/// What following a confirmation link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationOutcome {
    /// The address is now confirmed.
    Confirmed,
    /// It had been confirmed before; nothing changed.
    AlreadyConfirmed,
}

/// Registration, email confirmation, login and access-token checks, generic over the ports.
#[derive(Debug, Clone)]
pub struct AuthService<U, H, T, M, C> {
    users: U,
    hasher: H,
    tokens: T,
    mailer: M,
    clock: C,
    settings: AuthSettings,
}

impl<U, H, T, M, C> AuthService<U, H, T, M, C>
where
    U: UserRepository,
    H: PasswordHasher,
    T: TokenCodec,
    M: Mailer,
    C: Clock,
{
    /// Assembles the service from its ports.
    pub fn new(users: U, hasher: H, tokens: T, mailer: M, clock: C, settings: AuthSettings) -> Self {
        Self { users, hasher, tokens, mailer, clock, settings }
    }

    /// The user repository, for other services that share it.
    pub fn users(&self) -> &U {
        &self.users
    }

    /// Creates an unconfirmed account with role `user` and emails a confirmation link.
    ///
    /// A mail that cannot be sent is logged and does not undo the registration: the user can
    /// ask for a new link.
    pub async fn register(&self, input: RegistrationInput) -> Result<User, Error> {
        let mut problems = Problems::default();
        let username = problems.take(required("username", input.username).and_then(|u| Username::parse(&u)));
        let email = problems.take(required("email", input.email).and_then(|e| EmailAddress::parse("email", &e)));
        let password =
            problems.take(required("password", input.password).and_then(|p| Password::parse("password", &p)));
        problems.finish()?;
        let (Some(username), Some(email), Some(password)) = (username, email, password) else {
            unreachable!("every field parsed when there are no problems")
        };

        let password_hash = self.hasher.hash(&password).await?;
        let avatar = default_avatar(&email);
        let user = self.users.create(NewUser { username, email, password_hash, avatar }).await?;
        self.send_confirmation(&user).await;
        Ok(user)
    }

    /// Exchanges a username or email and a password for a token pair.
    ///
    /// Unknown accounts and wrong passwords get the same error after the same amount of work;
    /// "email not confirmed" is only revealed to someone who knows the password.
    pub async fn login(&self, login: &str, password: &str) -> Result<TokenPair, Error> {
        let Some(credentials) = self.users.find_credentials(login).await? else {
            let _ = self.hasher.verify(password, &self.hasher.decoy_hash()).await;
            return Err(Error::InvalidCredentials);
        };
        if !self.hasher.verify(password, &credentials.password_hash).await? {
            return Err(Error::InvalidCredentials);
        }
        if !credentials.user.confirmed {
            return Err(Error::EmailNotConfirmed);
        }
        self.issue_pair(&credentials.user)
    }

    /// Confirms the address a confirmation token was issued for.
    pub async fn confirm_email(&self, token: &str) -> Result<ConfirmationOutcome, Error> {
        let claims = self.verify(token, TokenKind::EmailConfirmation).ok_or(Error::VerificationFailed)?;
        let user = self.users.find_by_id(claims.subject).await?.ok_or(Error::VerificationFailed)?;
        if user.confirmed {
            return Ok(ConfirmationOutcome::AlreadyConfirmed);
        }
        self.users.confirm_email(user.id).await?.ok_or(Error::VerificationFailed)?;
        Ok(ConfirmationOutcome::Confirmed)
    }

    /// Sends a new confirmation link if the address belongs to an unconfirmed account.
    ///
    /// The outcome is the same whatever the account's state, so the answer reveals nothing.
    pub async fn request_confirmation_email(&self, email: Option<String>) -> Result<(), Error> {
        let email = required("email", email).and_then(|e| EmailAddress::parse("email", &e)).map_err(Error::invalid)?;
        if let Some(user) = self.users.find_by_email(&email).await?
            && !user.confirmed
        {
            self.send_confirmation(&user).await;
        }
        Ok(())
    }

    /// The user an access token speaks for; [`Error::Unauthenticated`] for any token that is
    /// malformed, forged, expired, of another kind, or whose user no longer exists.
    pub async fn authenticate(&self, access_token: &str) -> Result<User, Error> {
        let claims = self.verify(access_token, TokenKind::Access).ok_or(Error::Unauthenticated)?;
        self.users.find_by_id(claims.subject).await?.ok_or(Error::Unauthenticated)
    }

    fn verify(&self, token: &str, kind: TokenKind) -> Option<Claims> {
        self.tokens.decode(token, kind).filter(|claims| !claims.is_expired(self.clock.now()))
    }

    fn issue(&self, user: &User, kind: TokenKind, ttl: Duration) -> Result<String, Error> {
        let now = self.clock.now();
        let issued_at = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        self.tokens.encode(&Claims { subject: user.id, kind, issued_at, expires_at: issued_at + ttl })
    }

    fn issue_pair(&self, user: &User) -> Result<TokenPair, Error> {
        Ok(TokenPair {
            access_token: self.issue(user, TokenKind::Access, self.settings.access_ttl)?,
            refresh_token: self.issue(user, TokenKind::Refresh, self.settings.refresh_ttl)?,
            expires_in: self.settings.access_ttl.num_seconds(),
        })
    }

    async fn send_confirmation(&self, user: &User) {
        let result = async {
            let token = self.issue(user, TokenKind::EmailConfirmation, self.settings.email_token_ttl)?;
            let link = format!("{}/api/auth/confirmed_email/{token}", self.settings.base_url);
            self.mailer.send(Email::confirmation(user.email.clone(), &user.username, &link)).await
        }
        .await;
        if let Err(error) = result {
            tracing::error!(user_id = %user.id, error = ?error, "could not send the confirmation email");
        }
    }
}

/// A Gravatar identicon URL for the address: a picture for every new user, no upload needed.
fn default_avatar(email: &EmailAddress) -> String {
    let digest = Sha256::digest(email.as_str().trim().to_lowercase().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("https://www.gravatar.com/avatar/{hex}?d=identicon")
}

#[cfg(test)]
mod tests;
