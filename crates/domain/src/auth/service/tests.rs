use super::*;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};

use crate::auth::{MockMailer, MockPasswordHasher, MockTokenCodec};
use crate::clock::MockClock;
use crate::error::FieldError;
use crate::user::{MockUserRepository, PasswordHash, Role, UserCredentials, UserId};

type Service = AuthService<MockUserRepository, MockPasswordHasher, MockTokenCodec, MockMailer, MockClock>;

const BASE_URL: &str = "https://contacts.example";
const USER_ID: UserId = UserId(7);

/// The fixed "now" of every test: deliberately not on a whole second.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 30, 45).unwrap() + Duration::milliseconds(750)
}

/// `now()` truncated to whole seconds, what tokens are stamped with.
fn now_whole_seconds() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, 12, 30, 45).unwrap()
}

fn settings() -> AuthSettings {
    AuthSettings {
        base_url: BASE_URL.to_owned(),
        access_ttl: Duration::seconds(900),
        refresh_ttl: Duration::seconds(604_800),
        email_token_ttl: Duration::seconds(86_400),
    }
}

fn fixed_clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    clock
}

fn user(confirmed: bool) -> User {
    User {
        id: USER_ID,
        username: "ada".to_owned(),
        email: EmailAddress::from_trusted("ada@example.org".to_owned()),
        avatar: None,
        role: Role::User,
        confirmed,
        created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
    }
}

fn credentials(confirmed: bool) -> UserCredentials {
    UserCredentials { user: user(confirmed), password_hash: PasswordHash("stored-hash".to_owned()) }
}

fn claims(kind: TokenKind, expires_at: DateTime<Utc>) -> Claims {
    Claims { subject: USER_ID, kind, issued_at: expires_at - Duration::seconds(60), expires_at }
}

/// A shared list that a mock appends what it receives to.
type Recorded<T> = Arc<Mutex<Vec<T>>>;

fn recorded<T>(list: &Recorded<T>) -> Vec<T>
where
    T: Clone,
{
    list.lock().unwrap().clone()
}

/// A codec whose `encode` records the claims and returns `tok-{kind}`; `decode` is not expected.
fn recording_codec() -> (MockTokenCodec, Recorded<Claims>) {
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
fn decoding_codec(token: &'static str, kind: TokenKind, claims: Option<Claims>) -> MockTokenCodec {
    let mut codec = MockTokenCodec::new();
    codec.expect_decode().withf(move |t, expected| t == token && *expected == kind).times(1).return_const(claims);
    codec.expect_encode().never();
    codec
}

/// A mailer that records every email it is asked to send.
fn recording_mailer() -> (MockMailer, Recorded<Email>) {
    let sent: Recorded<Email> = Arc::default();
    let mut mailer = MockMailer::new();
    let sink = Arc::clone(&sent);
    mailer.expect_send().returning(move |email| {
        sink.lock().unwrap().push(email);
        Ok(())
    });
    (mailer, sent)
}

fn silent_mailer() -> MockMailer {
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(0);
    mailer
}

fn unused_hasher() -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().never();
    hasher.expect_verify().never();
    hasher
}

fn service(
    users: MockUserRepository,
    hasher: MockPasswordHasher,
    tokens: MockTokenCodec,
    mailer: MockMailer,
) -> Service {
    AuthService::new(users, hasher, tokens, mailer, fixed_clock(), settings())
}

fn confirmation_link(token: &str) -> String {
    format!("{BASE_URL}/api/auth/confirmed_email/{token}")
}

fn field_problems(error: Error) -> Vec<(String, &'static str)> {
    match error {
        Error::Invalid(problems) => problems.into_iter().map(|FieldError { field, kind, .. }| (field, kind)).collect(),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

fn registration(username: &str, email: &str, password: &str) -> RegistrationInput {
    RegistrationInput {
        username: Some(username.to_owned()),
        email: Some(email.to_owned()),
        password: Some(password.to_owned()),
    }
}

/// A repository that stores a new user by turning it into an unconfirmed `User`, recording it.
fn creating_repository() -> (MockUserRepository, Recorded<NewUser>) {
    let created: Recorded<NewUser> = Arc::default();
    let mut users = MockUserRepository::new();
    let sink = Arc::clone(&created);
    users.expect_create().times(1).returning(move |new_user| {
        sink.lock().unwrap().push(new_user.clone());
        Ok(User {
            username: new_user.username.as_str().to_owned(),
            email: new_user.email,
            avatar: Some(new_user.avatar),
            ..user(false)
        })
    });
    (users, created)
}

fn hashing_hasher() -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().times(1).returning(|password| Ok(PasswordHash(format!("hash-of-{}", password.expose()))));
    hasher.expect_verify().never();
    hasher
}

fn invalid_registration_service() -> Service {
    let mut users = MockUserRepository::new();
    users.expect_create().never();
    let mut tokens = MockTokenCodec::new();
    tokens.expect_encode().never();
    service(users, unused_hasher(), tokens, silent_mailer())
}

// ---------------------------------------------------------------------------------------------
// register

#[tokio::test]
async fn register_hashes_the_password_stores_the_user_and_mails_a_confirmation_link() {
    let (users, created) = creating_repository();
    let (tokens, issued) = recording_codec();
    let (mailer, sent) = recording_mailer();
    let service = service(users, hashing_hasher(), tokens, mailer);

    let user = service.register(registration("Ada_L", "Ada@Example.org", "correct horse")).await.unwrap();

    assert_eq!(user.username, "Ada_L");
    assert_eq!(user.email.as_str(), "Ada@Example.org");
    assert!(!user.confirmed);

    let created = recorded(&created);
    assert_eq!(created.len(), 1);
    let new_user = &created[0];
    assert_eq!(new_user.username.as_str(), "Ada_L");
    assert_eq!(new_user.email.as_str(), "Ada@Example.org", "the email is stored as sent");
    assert_eq!(new_user.password_hash, PasswordHash("hash-of-correct horse".to_owned()));
    // SHA-256 of the trimmed, lower-cased address "ada@example.org".
    assert_eq!(
        new_user.avatar,
        "https://www.gravatar.com/avatar/cfe00dde46ef942601ffafb9e2825e802858b460e586b8305b344c1eb826357d?d=identicon"
    );

    let issued = recorded(&issued);
    assert_eq!(
        issued,
        vec![Claims {
            subject: USER_ID,
            kind: TokenKind::EmailConfirmation,
            issued_at: now_whole_seconds(),
            expires_at: now_whole_seconds() + Duration::seconds(86_400),
        }]
    );

    let sent = recorded(&sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.as_str(), "Ada@Example.org");
    let link = confirmation_link("tok-email_confirmation");
    assert!(sent[0].text.lines().any(|line| line == link), "no line {link:?} in {:?}", sent[0].text);
}

#[tokio::test]
async fn register_reports_every_missing_field_at_once() {
    let error = invalid_registration_service().register(RegistrationInput::default()).await.unwrap_err();

    assert_eq!(
        field_problems(error),
        vec![("username".to_owned(), "missing"), ("email".to_owned(), "missing"), ("password".to_owned(), "missing")]
    );
}

#[tokio::test]
async fn register_reports_every_invalid_field_at_once() {
    let error =
        invalid_registration_service().register(registration("a b", "ada@localhost", "short")).await.unwrap_err();

    assert_eq!(
        field_problems(error),
        vec![
            ("username".to_owned(), "string_pattern_mismatch"),
            ("email".to_owned(), "value_error"),
            ("password".to_owned(), "string_too_short"),
        ]
    );
}

#[tokio::test]
async fn register_mixes_missing_and_invalid_fields_in_one_answer() {
    let input = RegistrationInput { username: None, email: Some("not-an-email".to_owned()), password: None };

    let error = invalid_registration_service().register(input).await.unwrap_err();

    assert_eq!(
        field_problems(error),
        vec![
            ("username".to_owned(), "missing"),
            ("email".to_owned(), "value_error"),
            ("password".to_owned(), "missing")
        ]
    );
}

#[tokio::test]
async fn register_refuses_a_73_byte_password_instead_of_truncating_it() {
    let password = "x".repeat(73);

    let error = invalid_registration_service().register(registration("ada", "ada@example.org", &password)).await;

    assert_eq!(field_problems(error.unwrap_err()), vec![("password".to_owned(), "string_too_long")]);
}

#[tokio::test]
async fn register_accepts_a_72_byte_password() {
    let (users, created) = creating_repository();
    let (tokens, _) = recording_codec();
    let (mailer, _) = recording_mailer();
    let password = "x".repeat(72);

    service(users, hashing_hasher(), tokens, mailer)
        .register(registration("ada", "ada@example.org", &password))
        .await
        .unwrap();

    assert_eq!(recorded(&created)[0].password_hash, PasswordHash(format!("hash-of-{password}")));
}

#[tokio::test]
async fn register_succeeds_even_when_the_confirmation_email_cannot_be_sent() {
    let (users, created) = creating_repository();
    let (tokens, _) = recording_codec();
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_| Err(Error::unexpected("smtp down")));

    let user = service(users, hashing_hasher(), tokens, mailer)
        .register(registration("ada", "ada@example.org", "correct horse"))
        .await
        .unwrap();

    assert_eq!(user.username, "ada");
    assert_eq!(recorded(&created).len(), 1);
}

#[tokio::test]
async fn register_propagates_a_conflict_and_sends_no_email() {
    let mut users = MockUserRepository::new();
    users.expect_create().times(1).returning(|_| Err(Error::Conflict("Email already registered")));
    let mut tokens = MockTokenCodec::new();
    tokens.expect_encode().never();

    let error = service(users, hashing_hasher(), tokens, silent_mailer())
        .register(registration("ada", "ada@example.org", "correct horse"))
        .await
        .unwrap_err();

    assert!(matches!(error, Error::Conflict("Email already registered")), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// login

fn users_finding_credentials(found: Option<UserCredentials>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_credentials().withf(|login| login == "ada").times(1).returning(move |_| Ok(found.clone()));
    users
}

fn hasher_verifying(expected_hash: &'static str, matches: bool) -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_verify()
        .withf(move |candidate, hash| candidate == "correct horse" && hash.0 == expected_hash)
        .times(1)
        .returning(move |_, _| Ok(matches));
    hasher.expect_hash().never();
    hasher
}

fn non_encoding_codec() -> MockTokenCodec {
    let mut tokens = MockTokenCodec::new();
    tokens.expect_encode().never();
    tokens
}

#[tokio::test]
async fn login_with_an_unknown_account_verifies_against_the_decoy_hash_and_fails() {
    let mut hasher = hasher_verifying("decoy-hash", false);
    hasher.expect_decoy_hash().times(1).returning(|| PasswordHash("decoy-hash".to_owned()));
    let service = service(users_finding_credentials(None), hasher, non_encoding_codec(), silent_mailer());

    let error = service.login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_an_unknown_account_fails_even_if_the_decoy_hash_matched() {
    let mut hasher = hasher_verifying("decoy-hash", true);
    hasher.expect_decoy_hash().returning(|| PasswordHash("decoy-hash".to_owned()));
    let service = service(users_finding_credentials(None), hasher, non_encoding_codec(), silent_mailer());

    let error = service.login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_a_wrong_password_fails_with_invalid_credentials() {
    let service = service(
        users_finding_credentials(Some(credentials(true))),
        hasher_verifying("stored-hash", false),
        non_encoding_codec(),
        silent_mailer(),
    );

    let error = service.login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_does_not_reveal_an_unconfirmed_email_to_a_wrong_password() {
    let service = service(
        users_finding_credentials(Some(credentials(false))),
        hasher_verifying("stored-hash", false),
        non_encoding_codec(),
        silent_mailer(),
    );

    let error = service.login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_the_right_password_but_an_unconfirmed_email_is_refused() {
    let service = service(
        users_finding_credentials(Some(credentials(false))),
        hasher_verifying("stored-hash", true),
        non_encoding_codec(),
        silent_mailer(),
    );

    let error = service.login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::EmailNotConfirmed), "{error:?}");
}

#[tokio::test]
async fn login_issues_an_access_and_a_refresh_token() {
    let (tokens, issued) = recording_codec();
    let service = service(
        users_finding_credentials(Some(credentials(true))),
        hasher_verifying("stored-hash", true),
        tokens,
        silent_mailer(),
    );

    let pair = service.login("ada", "correct horse").await.unwrap();

    assert_eq!(
        pair,
        TokenPair { access_token: "tok-access".to_owned(), refresh_token: "tok-refresh".to_owned(), expires_in: 900 }
    );
    let issued_at = now_whole_seconds();
    assert_eq!(
        recorded(&issued),
        vec![
            Claims {
                subject: USER_ID,
                kind: TokenKind::Access,
                issued_at,
                expires_at: issued_at + Duration::seconds(900)
            },
            Claims {
                subject: USER_ID,
                kind: TokenKind::Refresh,
                issued_at,
                expires_at: issued_at + Duration::seconds(604_800)
            },
        ]
    );
    assert_eq!(issued_at.timestamp_subsec_nanos(), 0);
}

// ---------------------------------------------------------------------------------------------
// confirm_email

fn users_finding_by_id(found: Option<User>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().withf(|id| *id == USER_ID).times(1).returning(move |_| Ok(found.clone()));
    users
}

fn untouched_users() -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().never();
    users.expect_confirm_email().never();
    users
}

fn confirming(token_claims: Option<Claims>, users: MockUserRepository) -> Service {
    let tokens = decoding_codec("the-token", TokenKind::EmailConfirmation, token_claims);
    service(users, unused_hasher(), tokens, silent_mailer())
}

#[tokio::test]
async fn confirm_email_refuses_a_token_the_codec_rejects() {
    let error = confirming(None, untouched_users()).confirm_email("the-token").await.unwrap_err();

    assert!(matches!(error, Error::VerificationFailed), "{error:?}");
}

#[tokio::test]
async fn confirm_email_refuses_a_token_at_the_instant_it_expires() {
    let expired = claims(TokenKind::EmailConfirmation, now());

    let error = confirming(Some(expired), untouched_users()).confirm_email("the-token").await.unwrap_err();

    assert!(matches!(error, Error::VerificationFailed), "{error:?}");
}

#[tokio::test]
async fn confirm_email_accepts_a_token_one_second_before_it_expires() {
    let mut users = users_finding_by_id(Some(user(false)));
    users.expect_confirm_email().withf(|id| *id == USER_ID).times(1).returning(|_| Ok(Some(user(true))));
    let valid = claims(TokenKind::EmailConfirmation, now() + Duration::seconds(1));

    let outcome = confirming(Some(valid), users).confirm_email("the-token").await.unwrap();

    assert_eq!(outcome, ConfirmationOutcome::Confirmed);
}

#[tokio::test]
async fn confirm_email_twice_says_already_confirmed_and_changes_nothing() {
    let mut users = users_finding_by_id(Some(user(true)));
    users.expect_confirm_email().never();
    let valid = claims(TokenKind::EmailConfirmation, now() + Duration::hours(1));

    let outcome = confirming(Some(valid), users).confirm_email("the-token").await.unwrap();

    assert_eq!(outcome, ConfirmationOutcome::AlreadyConfirmed);
}

#[tokio::test]
async fn confirm_email_for_a_user_that_no_longer_exists_fails() {
    let mut users = users_finding_by_id(None);
    users.expect_confirm_email().never();
    let valid = claims(TokenKind::EmailConfirmation, now() + Duration::hours(1));

    let error = confirming(Some(valid), users).confirm_email("the-token").await.unwrap_err();

    assert!(matches!(error, Error::VerificationFailed), "{error:?}");
}

#[tokio::test]
async fn confirm_email_fails_when_the_user_disappears_before_the_update() {
    let mut users = users_finding_by_id(Some(user(false)));
    users.expect_confirm_email().times(1).returning(|_| Ok(None));
    let valid = claims(TokenKind::EmailConfirmation, now() + Duration::hours(1));

    let error = confirming(Some(valid), users).confirm_email("the-token").await.unwrap_err();

    assert!(matches!(error, Error::VerificationFailed), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// request_confirmation_email

fn users_finding_by_email(found: Option<User>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_email()
        .withf(|email| email.as_str() == "ada@example.org")
        .times(1)
        .returning(move |_| Ok(found.clone()));
    users
}

#[tokio::test]
async fn request_confirmation_email_rejects_an_invalid_or_missing_address() {
    for (input, kind) in [(Some("not an email"), "value_error"), (None, "missing")] {
        let mut users = MockUserRepository::new();
        users.expect_find_by_email().never();
        let service = service(users, unused_hasher(), non_encoding_codec(), silent_mailer());

        let error = service.request_confirmation_email(input.map(str::to_owned)).await.unwrap_err();

        assert_eq!(field_problems(error), vec![("email".to_owned(), kind)], "{input:?}");
    }
}

#[tokio::test]
async fn request_confirmation_email_for_an_unknown_address_succeeds_without_mail() {
    let service = service(users_finding_by_email(None), unused_hasher(), non_encoding_codec(), silent_mailer());

    service.request_confirmation_email(Some("ada@example.org".to_owned())).await.unwrap();
}

#[tokio::test]
async fn request_confirmation_email_for_a_confirmed_user_succeeds_without_mail() {
    let service =
        service(users_finding_by_email(Some(user(true))), unused_hasher(), non_encoding_codec(), silent_mailer());

    service.request_confirmation_email(Some("ada@example.org".to_owned())).await.unwrap();
}

#[tokio::test]
async fn request_confirmation_email_for_an_unconfirmed_user_sends_one_link() {
    let (tokens, issued) = recording_codec();
    let (mailer, sent) = recording_mailer();
    let service = service(users_finding_by_email(Some(user(false))), unused_hasher(), tokens, mailer);

    service.request_confirmation_email(Some("ada@example.org".to_owned())).await.unwrap();

    let sent = recorded(&sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.as_str(), "ada@example.org");
    let link = confirmation_link("tok-email_confirmation");
    assert!(sent[0].text.lines().any(|line| line == link), "no line {link:?} in {:?}", sent[0].text);
    let issued = recorded(&issued);
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].kind, TokenKind::EmailConfirmation);
    assert_eq!(issued[0].expires_at, now_whole_seconds() + Duration::seconds(86_400));
}

// ---------------------------------------------------------------------------------------------
// authenticate

fn authenticating(token_claims: Option<Claims>, users: MockUserRepository) -> Service {
    let tokens = decoding_codec("access-token", TokenKind::Access, token_claims);
    service(users, unused_hasher(), tokens, silent_mailer())
}

#[tokio::test]
async fn authenticate_refuses_a_token_the_codec_rejects() {
    let error = authenticating(None, untouched_users()).authenticate("access-token").await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}

#[tokio::test]
async fn authenticate_refuses_an_expired_token() {
    let expired = claims(TokenKind::Access, now());

    let error = authenticating(Some(expired), untouched_users()).authenticate("access-token").await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}

#[tokio::test]
async fn authenticate_refuses_a_token_whose_user_is_gone() {
    let valid = claims(TokenKind::Access, now() + Duration::seconds(1));

    let error = authenticating(Some(valid), users_finding_by_id(None)).authenticate("access-token").await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}

#[tokio::test]
async fn authenticate_returns_the_tokens_user() {
    let valid = claims(TokenKind::Access, now() + Duration::seconds(1));

    let authenticated =
        authenticating(Some(valid), users_finding_by_id(Some(user(true)))).authenticate("access-token").await;

    assert_eq!(authenticated.unwrap(), user(true));
}
