//! [`AuthService`]: the rules of registration, confirmation, login, sessions (refresh-token
//! rotation and theft detection, logout) and password reset.

use chrono::Duration;
use sha2::{Digest, Sha256};

use super::password::Password;
use super::ports::{PasswordHasher, RefreshRotation, TokenCodec, TokenStore};
use super::tokens::{Claims, TokenKind, TokenPair, fingerprint, new_session_id};
use crate::clock::Clock;
use crate::email::EmailAddress;
use crate::error::{Error, Problems, required};
use crate::mail::{
    Email, Links, MAIL_REQUEST_LEASE_SECONDS, MailComposer, MailEffect, MailKind, MailOutbox, MailRequest,
};
use crate::user::{NewUser, User, UserId, UserRepository, Username};

/// Settings that shape tokens and links.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Builds the links put in emails (confirmation, password reset).
    pub links: Links,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Lifetime of email-confirmation tokens.
    pub email_token_ttl: Duration,
    /// Lifetime of password-reset tokens.
    pub reset_token_ttl: Duration,
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

/// A password reset as received.
#[derive(Debug, Clone, Default)]
pub struct PasswordResetInput {
    /// The token from the reset link.
    pub token: Option<String>,
    /// The new password.
    pub new_password: Option<String>,
}

/// What following a confirmation link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmationOutcome {
    /// The address is now confirmed.
    Confirmed,
    /// It had been confirmed before; nothing changed.
    AlreadyConfirmed,
}

/// The ports [`AuthService`] works with, bundled so the service has one type parameter.
#[derive(Debug, Clone)]
pub struct AuthPorts<U, H, T, S, M, C> {
    /// Where users are kept.
    pub users: U,
    /// Password hashing.
    pub hasher: H,
    /// Token signing.
    pub tokens: T,
    /// Server-side memory of refresh and reset tokens.
    pub store: S,
    /// Where mails are queued for delivery, in the same transaction as what they announce.
    pub outbox: M,
    /// The time.
    pub clock: C,
}

/// Registration, confirmation, login, sessions and password reset, generic over the ports.
#[derive(Debug, Clone)]
pub struct AuthService<U, H, T, S, M, C> {
    users: U,
    hasher: H,
    tokens: T,
    store: S,
    outbox: M,
    clock: C,
    settings: AuthSettings,
}

impl<U, H, T, S, M, C> AuthService<U, H, T, S, M, C>
where
    U: UserRepository,
    H: PasswordHasher,
    T: TokenCodec,
    S: TokenStore,
    M: MailOutbox,
    C: Clock,
{
    /// Assembles the service from its ports.
    pub fn new(ports: AuthPorts<U, H, T, S, M, C>, settings: AuthSettings) -> Self {
        let AuthPorts { users, hasher, tokens, store, outbox, clock } = ports;
        Self { users, hasher, tokens, store, outbox, clock, settings }
    }

    /// The user repository, for other services that share it.
    pub fn users(&self) -> &U {
        &self.users
    }

    /// Creates an unconfirmed account with role `user` and queues a confirmation link, in one
    /// transaction; the mail is sent later by the delivery worker (unless the flood guard holds
    /// it back), so the answer never waits for the mail server.
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
        let password = password.unlike("password", username.as_str(), &email).map_err(Error::invalid)?;

        let password_hash = self.hasher.hash(&password).await?;
        let avatar = default_avatar(&email);
        let composer = ConfirmationMail { service: self };
        self.outbox.register(NewUser { username, email, password_hash, avatar }, &composer).await
    }

    /// Exchanges a username or email and a password for a token pair.
    ///
    /// Unknown accounts and wrong passwords get the same error after the same amount of work;
    /// "email not confirmed" is only revealed to someone who knows the password.
    pub async fn login(&self, login: &str, password: &str) -> Result<TokenPair, Error> {
        // No account name holds a NUL (nor could the database compare one): unknown account.
        let found = if login.contains('\0') { None } else { self.users.find_credentials(login).await? };
        let Some(credentials) = found else {
            let _ = self.hasher.verify(password, &self.hasher.decoy_hash()).await;
            return Err(Error::InvalidCredentials);
        };
        if !self.hasher.verify(password, &credentials.password_hash).await? {
            return Err(Error::InvalidCredentials);
        }
        if !credentials.user.confirmed {
            return Err(Error::EmailNotConfirmed);
        }
        self.start_session(&credentials.user).await
    }

    /// Exchanges a live refresh token for a new pair and revokes the one presented.
    ///
    /// Presenting a token that was already rotated is treated as theft: every refresh token of
    /// its user is revoked, so neither the thief nor the victim can go on without logging in
    /// again. A token revoked otherwise (its logout, a password reset) is only refused: its
    /// session is over already, and the user's other sessions go on.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Error> {
        let claims = self.verify(refresh_token, TokenKind::Refresh).ok_or(Error::Unauthenticated)?;
        let user = self.users.find_by_id(claims.subject).await?.ok_or(Error::Unauthenticated)?;
        // Issued before a password reset (or a theft) ended every session: a login that read
        // the old password just before the reset may have stored it after the reset's sweep.
        if claims.version != user.token_version {
            return Err(Error::Unauthenticated);
        }
        // The new pair belongs to the same session, so logout ends it too.
        let (pair, expires_at) = self.issue_pair(&user, claims.session.clone())?;
        let rotation = self
            .store
            .rotate_refresh(
                &fingerprint(refresh_token),
                &fingerprint(&pair.refresh_token),
                expires_at,
                self.clock.now(),
            )
            .await?;
        self.settle(rotation, user.id).await?;
        Ok(pair)
    }

    /// Ends the session of a refresh token: the token itself, and every access token of that
    /// session (the login's and every refresh's) from the next request on. Other sessions go on.
    pub async fn logout(&self, refresh_token: &str) -> Result<(), Error> {
        let claims = self.verify(refresh_token, TokenKind::Refresh).ok_or(Error::Unauthenticated)?;
        let now = self.clock.now();
        let rotation = self.store.revoke_refresh(&fingerprint(refresh_token), now).await?;
        self.settle(rotation, claims.subject).await?;
        if let Some(session) = &claims.session {
            // The latest expiry an access token of this session can have: one issued now
            // (rounded up as theirs are, or one issued earlier in this second would outlive
            // the record that refuses it).
            let until = rounded_expiry(now, self.settings.access_ttl);
            self.users.end_session(claims.subject, session, until, now).await?;
        }
        Ok(())
    }

    async fn settle(&self, rotation: RefreshRotation, user: UserId) -> Result<(), Error> {
        match rotation {
            RefreshRotation::Rotated => Ok(()),
            RefreshRotation::Unknown => Err(Error::Unauthenticated),
            RefreshRotation::Reused => {
                tracing::warn!(user_id = %user, "a rotated refresh token was presented again; ending every session");
                self.store.revoke_all_refresh(user).await?;
                // Access tokens too, at once: the thief may hold one of any session.
                self.users.end_all_sessions(user).await?;
                Err(Error::Unauthenticated)
            }
        }
    }

    /// Records a request for a mail of `kind` to `address` (`request_email` asks for a
    /// [`MailKind::Confirmation`], `request_password_reset` for a [`MailKind::PasswordReset`]):
    /// what an inbound adapter does before it answers, the same whatever the address, so a
    /// request it answered survives the instance. Then [`handle_mail_request`] does the work.
    ///
    /// [`handle_mail_request`]: AuthService::handle_mail_request
    pub async fn record_mail_request(&self, kind: MailKind, address: EmailAddress) -> Result<MailRequest, Error> {
        self.outbox.record_request(kind, &address).await
    }

    /// Does what a recorded request asks ([`request_password_reset`] or
    /// [`request_confirmation_email`]), then forgets it. A request forgotten only after its
    /// mail was queued may be done twice if the instance dies in between; the flood guard's
    /// cooldown keeps a second mail from following the first.
    ///
    /// [`request_password_reset`]: AuthService::request_password_reset
    /// [`request_confirmation_email`]: AuthService::request_confirmation_email
    pub async fn handle_mail_request(&self, request: MailRequest) -> Result<(), Error> {
        match request.kind {
            MailKind::PasswordReset => self.request_password_reset(request.address).await?,
            MailKind::Confirmation => self.request_confirmation_email(request.address).await?,
            MailKind::BirthdayReminder => {}
        }
        self.outbox.request_handled(request.id).await
    }

    /// Handles the recorded requests whose instance died before it handled them (up to
    /// `limit`); returns how many. Every instance runs this now and then.
    pub async fn handle_left_mail_requests(&self, limit: i64) -> Result<usize, Error> {
        let lease = Duration::seconds(MAIL_REQUEST_LEASE_SECONDS);
        let left = self.outbox.claim_requests(self.clock.now(), lease, limit).await?;
        let count = left.len();
        for request in left {
            self.handle_mail_request(request).await?;
        }
        Ok(count)
    }

    /// Queues a single-use reset link if the address has an account (see [`requested_address`]
    /// for the address). The outcome is the same whether or not it does; an inbound adapter
    /// answers before this work, so its time reveals nothing either.
    pub async fn request_password_reset(&self, email: EmailAddress) -> Result<(), Error> {
        let Some(user) = self.users.find_by_email(&email).await? else {
            return self.outbox.queue_nothing(&email).await;
        };
        let (token, expires_at) = self.issue(&user, TokenKind::PasswordReset, self.settings.reset_token_ttl)?;
        let link = self.settings.links.reset_password(&token);
        let mail = Email::password_reset(user.email.clone(), &user.username, &link);
        let effect = MailEffect::StoreReset { user: user.id, fingerprint: fingerprint(&token), expires_at };
        if !self.outbox.queue(MailKind::PasswordReset, mail, effect).await? {
            tracing::info!(user_id = %user.id, "password reset mail held back by the flood guard");
        }
        Ok(())
    }

    /// Sets a new password with a reset token. The token works once; every refresh token of
    /// the user is revoked and every access token issued before becomes invalid at once.
    pub async fn reset_password(&self, input: PasswordResetInput) -> Result<User, Error> {
        let mut problems = Problems::default();
        let token = problems.take(required("token", input.token));
        let password = problems
            .take(required("new_password", input.new_password).and_then(|p| Password::parse("new_password", &p)));
        problems.finish()?;
        let (Some(token), Some(password)) = (token, password) else {
            unreachable!("every field parsed when there are no problems")
        };
        let claims = self.verify(&token, TokenKind::PasswordReset).ok_or(Error::InvalidResetToken)?;
        // The account is known only now; a password like it is refused before the token is
        // spent, so the user can pick another with the same link.
        let account = self.users.find_by_id(claims.subject).await?.ok_or(Error::InvalidResetToken)?;
        let password = password.unlike("new_password", &account.username, &account.email).map_err(Error::invalid)?;
        let user_id = self.store.consume_reset(&fingerprint(&token), self.clock.now()).await?;
        if user_id != Some(claims.subject) {
            return Err(Error::InvalidResetToken);
        }
        let password_hash = self.hasher.hash(&password).await?;
        let user = self.users.update_password(claims.subject, password_hash).await?.ok_or(Error::InvalidResetToken)?;
        self.store.revoke_all_refresh(user.id).await?;
        Ok(user)
    }

    /// Forgets refresh and reset tokens that have expired; run periodically.
    pub async fn purge_expired_tokens(&self) -> Result<u64, Error> {
        self.store.purge_expired(self.clock.now()).await
    }

    /// Confirms the address a confirmation token was issued for.
    pub async fn confirm_email(&self, token: &str) -> Result<ConfirmationOutcome, Error> {
        let claims = self.verify(token, TokenKind::EmailConfirmation).ok_or(Error::VerificationFailed)?;
        let user = self.users.find_by_id(claims.subject).await?.ok_or(Error::VerificationFailed)?;
        if user.confirmed {
            return Ok(ConfirmationOutcome::AlreadyConfirmed);
        }
        // The write decides: a click racing this one may have confirmed the user meanwhile.
        Ok(match self.users.confirm_email(user.id).await? {
            Some(_) => ConfirmationOutcome::Confirmed,
            None => ConfirmationOutcome::AlreadyConfirmed,
        })
    }

    /// Queues a new confirmation link if the address belongs to an unconfirmed account.
    ///
    /// The outcome is the same whatever the account's state; an inbound adapter answers before
    /// this work, so its time reveals nothing either.
    pub async fn request_confirmation_email(&self, email: EmailAddress) -> Result<(), Error> {
        match self.users.find_by_email(&email).await? {
            Some(user) if !user.confirmed => {
                let mail = self.confirmation_mail(&user)?;
                if !self.outbox.queue(MailKind::Confirmation, mail, MailEffect::None).await? {
                    tracing::info!(user_id = %user.id, "confirmation mail held back by the flood guard");
                }
                Ok(())
            }
            _ => self.outbox.queue_nothing(&email).await,
        }
    }

    /// The user an access token speaks for; [`Error::Unauthenticated`] for any token that is
    /// malformed, forged, expired, of another kind, or whose user no longer exists.
    pub async fn authenticate(&self, access_token: &str) -> Result<User, Error> {
        let claims = self.verify(access_token, TokenKind::Access).ok_or(Error::Unauthenticated)?;
        let user = self.users.find_by_id(claims.subject).await?.ok_or(Error::Unauthenticated)?;
        // A password reset since the token was issued ends it at once, not at its expiry.
        if claims.version != user.token_version {
            return Err(Error::Unauthenticated);
        }
        // So does the logout of the token's session (the user, cached or not, carries them).
        if claims.session.as_ref().is_some_and(|session| user.ended_sessions.contains(session)) {
            return Err(Error::Unauthenticated);
        }
        Ok(user)
    }

    fn verify(&self, token: &str, kind: TokenKind) -> Option<Claims> {
        self.tokens.decode(token, kind).filter(|claims| !claims.is_expired(self.clock.now()))
    }

    /// Signs a token of `kind` for `user`, returning it with its expiry.
    fn issue(
        &self,
        user: &User,
        kind: TokenKind,
        ttl: Duration,
    ) -> Result<(String, chrono::DateTime<chrono::Utc>), Error> {
        self.issue_in(user, kind, ttl, None)
    }

    /// [`Self::issue`] for a token of `session`.
    fn issue_in(
        &self,
        user: &User,
        kind: TokenKind,
        ttl: Duration,
        session: Option<String>,
    ) -> Result<(String, chrono::DateTime<chrono::Utc>), Error> {
        // Tokens carry whole seconds (JWT's `iat` and `exp`): the issue time is the second it
        // began in, and the expiry rounded up (see `rounded_expiry`).
        let now = self.clock.now();
        let issued_at = chrono::DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now);
        let expires_at = rounded_expiry(now, ttl);
        let claims = Claims { subject: user.id, kind, issued_at, expires_at, version: user.token_version, session };
        Ok((self.tokens.encode(&claims)?, expires_at))
    }

    /// A new access and refresh token; the caller stores the refresh token.
    fn issue_pair(
        &self,
        user: &User,
        session: Option<String>,
    ) -> Result<(TokenPair, chrono::DateTime<chrono::Utc>), Error> {
        let (access_token, _) = self.issue_in(user, TokenKind::Access, self.settings.access_ttl, session.clone())?;
        let (refresh_token, refresh_expires_at) =
            self.issue_in(user, TokenKind::Refresh, self.settings.refresh_ttl, session)?;
        let pair = TokenPair { access_token, refresh_token, expires_in: self.settings.access_ttl.num_seconds() };
        Ok((pair, refresh_expires_at))
    }

    /// Issues a pair and remembers its refresh token.
    async fn start_session(&self, user: &User) -> Result<TokenPair, Error> {
        let (pair, expires_at) = self.issue_pair(user, Some(new_session_id()?))?;
        self.store.store_refresh(user.id, &fingerprint(&pair.refresh_token), expires_at).await?;
        Ok(pair)
    }

    /// The confirmation mail for `user`, with a freshly signed link.
    fn confirmation_mail(&self, user: &User) -> Result<Email, Error> {
        let (token, _) = self.issue(user, TokenKind::EmailConfirmation, self.settings.email_token_ttl)?;
        let link = self.settings.links.confirm_email(&token);
        Ok(Email::confirmation(user.email.clone(), &user.username, &link))
    }
}

/// Builds the confirmation mail once the new account has its id, inside the outbox's
/// transaction.
struct ConfirmationMail<'a, U, H, T, S, M, C> {
    service: &'a AuthService<U, H, T, S, M, C>,
}

impl<U, H, T, S, M, C> MailComposer for ConfirmationMail<'_, U, H, T, S, M, C>
where
    U: UserRepository,
    H: PasswordHasher,
    T: TokenCodec,
    S: TokenStore,
    M: MailOutbox,
    C: Clock,
{
    fn compose(&self, user: &User) -> Result<Email, Error> {
        self.service.confirmation_mail(user)
    }
}

/// The expiry of a token issued at `now` for `ttl`: the first whole second (JWT's `exp` carries
/// whole seconds) not before `now + ttl`, so a token lives its whole lifetime and at most a second
/// more, never less (API.md: "issue time plus the configured lifetime ... no grace period beyond
/// a second").
fn rounded_expiry(now: chrono::DateTime<chrono::Utc>, ttl: Duration) -> chrono::DateTime<chrono::Utc> {
    let end = now + ttl;
    let whole = chrono::DateTime::from_timestamp(end.timestamp(), 0).unwrap_or(end);
    if whole < end { whole + Duration::seconds(1) } else { whole }
}

/// A Gravatar identicon URL for the address: a picture for every new user, no upload needed.
fn default_avatar(email: &EmailAddress) -> String {
    let digest = Sha256::digest(email.as_str().trim().to_lowercase().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("https://www.gravatar.com/avatar/{hex}?d=identicon")
}

/// The address of a mail request (`request_email`, `request_password_reset`): required and
/// valid. Parsed apart from the request's work so that an adapter can refuse bad input at once
/// and still answer before the work, which differs for known and unknown addresses.
pub fn requested_address(email: Option<String>) -> Result<EmailAddress, Error> {
    required("email", email).and_then(|e| EmailAddress::parse("email", &e)).map_err(Error::invalid)
}

#[cfg(test)]
mod fixtures;
#[cfg(test)]
mod session_tests;
#[cfg(test)]
mod tests;
