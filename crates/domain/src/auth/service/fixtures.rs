//! Fixtures shared by the unit tests of [`AuthService`]: a fixed clock, a user, and mocks of
//! every port that either record what they receive or refuse to be called at all.

use super::*;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};

use crate::auth::{MockPasswordHasher, MockTokenCodec, MockTokenStore};
use crate::clock::MockClock;
use crate::error::FieldError;
use crate::mail::{LinkPaths, Links, MailComposer};
use crate::user::{MockUserRepository, Role};

pub(super) type Service =
    AuthService<MockUserRepository, MockPasswordHasher, MockTokenCodec, MockTokenStore, FakeOutbox, MockClock>;

pub(super) const BASE_URL: &str = "https://contacts.example";
/// The confirmation route as the inbound adapter would hand it over.
pub(super) const CONFIRM_PATH: &str = "/auth/confirmed_email/{token}";
/// The reset page route as the inbound adapter would hand it over.
pub(super) const RESET_PATH: &str = "/reset-password?token={token}";
pub(super) const USER_ID: UserId = UserId(7);
/// The fixture user's token version: deliberately not 0, so a hard-coded version shows.
/// The session of the tokens [`claims`] makes.
pub(super) const SESSION: &str = "0123456789abcdef0123456789abcdef";
pub(super) const TOKEN_VERSION: i64 = 3;

/// The fixed "now" of every test: deliberately not on a whole second.
pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 30, 45).unwrap() + Duration::milliseconds(750)
}

/// `now()` truncated to whole seconds, what tokens are stamped with.
pub(super) fn now_whole_seconds() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 30, 45).unwrap()
}

/// The expiry of a token of lifetime `ttl` issued at `now()`: the first whole second not before
/// `now() + ttl` (`now()` is 750 ms into its second), so the token never lives less than `ttl`.
pub(super) fn expiry_after(ttl: Duration) -> DateTime<Utc> {
    now_whole_seconds() + ttl + Duration::seconds(1)
}

pub(super) fn settings() -> AuthSettings {
    AuthSettings {
        links: Links::new(
            BASE_URL,
            LinkPaths {
                confirm_email: CONFIRM_PATH.to_owned(),
                reset_password: RESET_PATH.to_owned(),
                unsubscribe_reminders: "/off?token={token}".to_owned(),
            },
        ),
        access_ttl: Duration::seconds(900),
        refresh_ttl: Duration::seconds(604_800),
        email_token_ttl: Duration::seconds(86_400),
        reset_token_ttl: Duration::seconds(3_600),
    }
}

pub(super) fn fixed_clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    clock.expect_today().return_const(now().date_naive());
    clock
}

pub(super) fn user(confirmed: bool) -> User {
    User {
        id: USER_ID,
        username: "ada".to_owned(),
        email: EmailAddress::from_trusted("ada@example.org".to_owned()),
        avatar: None,
        role: Role::User,
        confirmed,
        created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        token_version: TOKEN_VERSION,
        ended_sessions: Vec::new(),
    }
}

/// Claims of `kind` for the fixture user, issued under its current token version.
pub(super) fn claims(kind: TokenKind, expires_at: DateTime<Utc>) -> Claims {
    Claims {
        subject: USER_ID,
        kind,
        issued_at: expires_at - Duration::seconds(60),
        expires_at,
        version: TOKEN_VERSION,
        session: Some(SESSION.to_owned()),
    }
}

/// A shared list that a mock appends what it receives to.
pub(super) type Recorded<T> = Arc<Mutex<Vec<T>>>;

pub(super) fn recorded<T>(list: &Recorded<T>) -> Vec<T>
where
    T: Clone,
{
    list.lock().unwrap().clone()
}

/// A codec whose `encode` records the claims and returns `tok-{kind}`; `decode` is not expected.
pub(super) fn recording_codec() -> (MockTokenCodec, Recorded<Claims>) {
    let issued: Recorded<Claims> = Arc::default();
    let mut codec = MockTokenCodec::new();
    let sink = Arc::clone(&issued);
    codec.expect_encode().returning(move |claims| {
        sink.lock().unwrap().push(claims.clone());
        Ok(format!("tok-{}", claims.kind.as_str()))
    });
    (codec, issued)
}

/// A codec that decodes exactly `token` as `kind` into `claims`, and never encodes.
pub(super) fn decoding_codec(token: &'static str, kind: TokenKind, claims: Option<Claims>) -> MockTokenCodec {
    let mut codec = MockTokenCodec::new();
    codec.expect_decode().withf(move |t, expected| t == token && *expected == kind).times(1).return_const(claims);
    codec.expect_encode().never();
    codec
}

pub(super) fn non_encoding_codec() -> MockTokenCodec {
    let mut tokens = MockTokenCodec::new();
    tokens.expect_encode().never();
    tokens
}

/// An outbox that records what it is given. `register` turns the new user into an unconfirmed
/// [`User`] (the fixture user's id) and composes its mail; it refuses with a conflict when
/// `conflict` is set, and `silent` makes every queuing call a test failure.
#[derive(Default)]
pub(super) struct FakeOutbox {
    pub(super) created: Recorded<NewUser>,
    pub(super) sent: Recorded<Email>,
    pub(super) effects: Recorded<MailEffect>,
    pub(super) decoys: Recorded<String>,
    /// Recorded mail requests not handled yet, which `claim_requests` hands out.
    pub(super) requests: Recorded<MailRequest>,
    /// Ids of the requests handled.
    pub(super) handled: Recorded<i64>,
    pub(super) conflict: bool,
    pub(super) silent: bool,
    pub(super) held_back: bool,
}

impl MailOutbox for FakeOutbox {
    async fn register(&self, new_user: NewUser, composer: &dyn MailComposer) -> Result<User, Error> {
        assert!(!self.silent, "register was not expected");
        if self.conflict {
            return Err(Error::Conflict(crate::error::Conflict::EmailTaken));
        }
        self.created.lock().unwrap().push(new_user.clone());
        let user = User {
            username: new_user.username.as_str().to_owned(),
            email: new_user.email,
            avatar: Some(new_user.avatar),
            ..user(false)
        };
        let mail = composer.compose(&user)?;
        if !self.held_back {
            self.sent.lock().unwrap().push(mail);
        }
        Ok(user)
    }

    async fn queue(&self, _kind: MailKind, email: Email, effect: MailEffect) -> Result<bool, Error> {
        assert!(!self.silent, "no mail was expected, got {email:?}");
        if self.held_back {
            return Ok(false);
        }
        self.sent.lock().unwrap().push(email);
        self.effects.lock().unwrap().push(effect);
        Ok(true)
    }

    async fn queue_nothing(&self, address: &EmailAddress) -> Result<(), Error> {
        self.decoys.lock().unwrap().push(address.as_str().to_owned());
        Ok(())
    }

    async fn record_request(&self, kind: MailKind, address: &EmailAddress) -> Result<MailRequest, Error> {
        let mut requests = self.requests.lock().unwrap();
        let request = MailRequest { id: requests.len() as i64 + 1, kind, address: address.clone() };
        requests.push(request.clone());
        Ok(request)
    }

    async fn request_handled(&self, id: i64) -> Result<(), Error> {
        self.handled.lock().unwrap().push(id);
        Ok(())
    }

    async fn claim_requests(
        &self,
        _now: DateTime<Utc>,
        _lease: Duration,
        limit: i64,
    ) -> Result<Vec<MailRequest>, Error> {
        let handled = self.handled.lock().unwrap().clone();
        let requests = self.requests.lock().unwrap();
        Ok(requests.iter().filter(|r| !handled.contains(&r.id)).take(limit as usize).cloned().collect())
    }
}

/// An outbox that records every email it is asked to queue.
pub(super) fn recording_mailer() -> (FakeOutbox, Recorded<Email>) {
    let outbox = FakeOutbox::default();
    let sent = Arc::clone(&outbox.sent);
    (outbox, sent)
}

/// An outbox that must not queue anything (decoy work is allowed).
pub(super) fn silent_mailer() -> FakeOutbox {
    FakeOutbox { silent: true, ..FakeOutbox::default() }
}

pub(super) fn unused_hasher() -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().never();
    hasher.expect_verify().never();
    hasher
}

/// A token store that must not be called at all.
pub(super) fn untouched_store() -> MockTokenStore {
    let mut store = MockTokenStore::new();
    store.expect_store_refresh().never();
    store.expect_rotate_refresh().never();
    store.expect_revoke_refresh().never();
    store.expect_revoke_all_refresh().never();
    store.expect_store_reset().never();
    store.expect_consume_reset().never();
    store.expect_purge_expired().never();
    store
}

pub(super) fn service(
    users: MockUserRepository,
    hasher: MockPasswordHasher,
    tokens: MockTokenCodec,
    store: MockTokenStore,
    outbox: FakeOutbox,
) -> Service {
    AuthService::new(AuthPorts { users, hasher, tokens, store, outbox, clock: fixed_clock() }, settings())
}

pub(super) fn field_problems(error: Error) -> Vec<(String, &'static str)> {
    match error {
        Error::Invalid(problems) => problems.iter().map(|p: &FieldError| (p.field(), p.rule.name())).collect(),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

pub(super) fn users_finding_by_id(found: Option<User>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().withf(|id| *id == USER_ID).times(1).returning(move |_| Ok(found.clone()));
    users
}

/// A repository that must not be called at all.
pub(super) fn untouched_users() -> MockUserRepository {
    // A mock without expectations panics on any call.
    MockUserRepository::new()
}

pub(super) fn users_finding_by_email(found: Option<User>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_email()
        .withf(|email| email.as_str() == "ada@example.org")
        .times(1)
        .returning(move |_| Ok(found.clone()));
    users
}
