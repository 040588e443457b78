//! Fixtures shared by the unit tests of [`AuthService`]: a fixed clock, a user, and mocks of
//! every port that either record what they receive or refuse to be called at all.

use super::*;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};

use crate::auth::{MockPasswordHasher, MockTokenCodec, MockTokenStore};
use crate::clock::MockClock;
use crate::error::FieldError;
use crate::mail::{LinkPaths, Links, MockMailer};
use crate::user::{MockUserRepository, Role};

pub(super) type Service =
    AuthService<MockUserRepository, MockPasswordHasher, MockTokenCodec, MockTokenStore, MockMailer, MockClock>;

pub(super) const BASE_URL: &str = "https://contacts.example";
/// The confirmation route as the inbound adapter would hand it over.
pub(super) const CONFIRM_PATH: &str = "/auth/confirmed_email/{token}";
/// The reset page route as the inbound adapter would hand it over.
pub(super) const RESET_PATH: &str = "/reset-password?token={token}";
pub(super) const USER_ID: UserId = UserId(7);
/// The fixture user's token version: deliberately not 0, so a hard-coded version shows.
pub(super) const TOKEN_VERSION: i64 = 3;

/// The fixed "now" of every test: deliberately not on a whole second.
pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 30, 45).unwrap() + Duration::milliseconds(750)
}

/// `now()` truncated to whole seconds, what tokens are stamped with.
pub(super) fn now_whole_seconds() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 30, 45).unwrap()
}

pub(super) fn settings() -> AuthSettings {
    AuthSettings {
        links: Links::new(
            BASE_URL,
            LinkPaths { confirm_email: CONFIRM_PATH.to_owned(), reset_password: RESET_PATH.to_owned() },
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
    }
}

/// Claims of `kind` for the fixture user, issued under its current token version.
pub(super) fn claims(kind: TokenKind, expires_at: DateTime<Utc>) -> Claims {
    Claims { subject: USER_ID, kind, issued_at: expires_at - Duration::seconds(60), expires_at, version: TOKEN_VERSION }
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

/// A mailer that records every email it is asked to send.
pub(super) fn recording_mailer() -> (MockMailer, Recorded<Email>) {
    let sent: Recorded<Email> = Arc::default();
    let mut mailer = MockMailer::new();
    let sink = Arc::clone(&sent);
    mailer.expect_send().returning(move |email| {
        sink.lock().unwrap().push(email);
        Ok(())
    });
    (mailer, sent)
}

pub(super) fn silent_mailer() -> MockMailer {
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(0);
    mailer
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
    mailer: MockMailer,
) -> Service {
    AuthService::new(AuthPorts { users, hasher, tokens, store, mailer, clock: fixed_clock() }, settings())
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
