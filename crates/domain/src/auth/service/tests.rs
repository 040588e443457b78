use super::fixtures::*;
use super::*;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::auth::{MockPasswordHasher, MockTokenCodec, MockTokenStore};
use crate::error::{Conflict, PasswordProblem, Rule, Unit};
use crate::user::{MockUserRepository, PasswordHash, UserCredentials};

fn confirmation_link(token: &str) -> String {
    format!("{BASE_URL}/auth/confirmed_email/{token}")
}

fn registration(username: &str, email: &str, password: &str) -> RegistrationInput {
    RegistrationInput {
        username: Some(username.to_owned()),
        email: Some(email.to_owned()),
        password: Some(password.to_owned()),
    }
}

/// An outbox that stores the new user (recorded) and records the mail queued with it.
fn registering_outbox() -> (FakeOutbox, Recorded<NewUser>, Recorded<Email>) {
    let outbox = FakeOutbox::default();
    let (created, sent) = (Arc::clone(&outbox.created), Arc::clone(&outbox.sent));
    (outbox, created, sent)
}

fn hashing_hasher() -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().times(1).returning(|password| Ok(PasswordHash(format!("hash-of-{}", password.expose()))));
    hasher.expect_verify().never();
    hasher
}

fn invalid_registration_service() -> Service {
    let mut tokens = MockTokenCodec::new();
    tokens.expect_encode().never();
    service(untouched_users(), unused_hasher(), tokens, untouched_store(), silent_mailer())
}

// ---------------------------------------------------------------------------------------------
// register

#[tokio::test]
async fn register_hashes_the_password_stores_the_user_and_mails_a_confirmation_link() {
    let (outbox, created, sent) = registering_outbox();
    let (tokens, issued) = recording_codec();
    let service = service(untouched_users(), hashing_hasher(), tokens, untouched_store(), outbox);

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
            expires_at: expiry_after(Duration::seconds(86_400)),
            version: TOKEN_VERSION,
            session: None,
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
        vec![("username".to_owned(), "Missing"), ("email".to_owned(), "Missing"), ("password".to_owned(), "Missing")]
    );
}

#[tokio::test]
async fn register_reports_every_invalid_field_at_once() {
    let error =
        invalid_registration_service().register(registration("a b", "ada@localhost", "short")).await.unwrap_err();

    assert_eq!(
        field_problems(error),
        vec![
            ("username".to_owned(), "Pattern"),
            ("email".to_owned(), "InvalidEmail"),
            ("password".to_owned(), "TooShort"),
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
            ("username".to_owned(), "Missing"),
            ("email".to_owned(), "InvalidEmail"),
            ("password".to_owned(), "Missing")
        ]
    );
}

#[tokio::test]
async fn register_refuses_a_73_byte_password_instead_of_truncating_it() {
    let password = "x".repeat(73);

    let error = invalid_registration_service().register(registration("ada", "ada@example.org", &password)).await;

    assert_eq!(field_problems(error.unwrap_err()), vec![("password".to_owned(), "TooLong")]);
}

#[tokio::test]
async fn register_refuses_weak_passwords_at_the_password_field() {
    use PasswordProblem::{Common, ControlCharacter, Personal, Repeated};
    let weak = Rule::WeakPassword;
    let cases = [
        ("password1", Some(weak(Common))),
        ("aaaaaaaa", Some(weak(Repeated))),
        ("\0\0\0\0\0\0\0\0", Some(weak(ControlCharacter))),
        ("Ada_Lovelace", Some(weak(Personal))),
        ("ADA.L@EXAMPLE.ORG", Some(weak(Personal))),
        ("ada.l", Some(Rule::TooShort { min: 8, unit: Unit::Bytes })),
        ("Ada.L1815", None),
    ];
    for (password, expected) in cases {
        let email = "ada.l@example.org";
        let result = if expected.is_none() {
            let (outbox, _, _) = registering_outbox();
            let (tokens, _) = recording_codec();
            service(untouched_users(), hashing_hasher(), tokens, untouched_store(), outbox)
                .register(registration("Ada_Lovelace", email, password))
                .await
                .map(|_| ())
        } else {
            invalid_registration_service().register(registration("Ada_Lovelace", email, password)).await.map(|_| ())
        };
        match (result, expected) {
            (Ok(()), None) => {}
            (Err(error), Some(rule)) => assert_eq!(rules(error), vec![("password".to_owned(), rule)], "{password:?}"),
            (other, expected) => panic!("{password:?}: {other:?}, expected {expected:?}"),
        }
    }
    // The local part alone, too.
    let service = invalid_registration_service();
    let error = service.register(registration("ada", "lovelace1815@example.org", "LoveLace1815")).await.unwrap_err();
    assert_eq!(rules(error), vec![("password".to_owned(), weak(Personal))]);
}

/// The field and rule of every problem of an [`Error::Invalid`].
fn rules(error: Error) -> Vec<(String, Rule)> {
    match error {
        Error::Invalid(problems) => problems.into_iter().map(|p| (p.field(), p.rule)).collect(),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

#[tokio::test]
async fn register_accepts_a_72_byte_password() {
    let (outbox, created, _) = registering_outbox();
    let (tokens, _) = recording_codec();
    let password = "xy".repeat(36);

    service(untouched_users(), hashing_hasher(), tokens, untouched_store(), outbox)
        .register(registration("ada", "ada@example.org", &password))
        .await
        .unwrap();

    assert_eq!(recorded(&created)[0].password_hash, PasswordHash(format!("hash-of-{password}")));
}

#[tokio::test]
async fn register_succeeds_when_the_flood_guard_holds_the_mail_back() {
    let (outbox, created, sent) = registering_outbox();
    let outbox = FakeOutbox { held_back: true, ..outbox };
    let (tokens, _) = recording_codec();

    let user = service(untouched_users(), hashing_hasher(), tokens, untouched_store(), outbox)
        .register(registration("ada", "ada@example.org", "correct horse"))
        .await
        .unwrap();

    assert_eq!(user.username, "ada");
    assert_eq!(recorded(&created).len(), 1);
    assert!(recorded(&sent).is_empty());
}

#[tokio::test]
async fn register_propagates_a_conflict_and_sends_no_email() {
    let outbox = FakeOutbox { conflict: true, ..FakeOutbox::default() };
    let sent = Arc::clone(&outbox.sent);
    let mut tokens = MockTokenCodec::new();
    tokens.expect_encode().never();

    let error = service(untouched_users(), hashing_hasher(), tokens, untouched_store(), outbox)
        .register(registration("ada", "ada@example.org", "correct horse"))
        .await
        .unwrap_err();

    assert!(matches!(error, Error::Conflict(Conflict::EmailTaken)), "{error:?}");
    assert!(recorded(&sent).is_empty());
}

// ---------------------------------------------------------------------------------------------
// login

fn credentials(confirmed: bool) -> UserCredentials {
    UserCredentials { user: user(confirmed), password_hash: PasswordHash("stored-hash".to_owned()) }
}

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

#[tokio::test]
async fn login_with_an_unknown_account_verifies_against_the_decoy_hash_and_fails() {
    let mut hasher = hasher_verifying("decoy-hash", false);
    hasher.expect_decoy_hash().times(1).returning(|| PasswordHash("decoy-hash".to_owned()));
    let service =
        service(users_finding_credentials(None), hasher, non_encoding_codec(), untouched_store(), silent_mailer());

    let error = service.login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn a_login_name_with_a_nul_is_an_unknown_account_and_never_reaches_the_repository() {
    let mut hasher = hasher_verifying("decoy-hash", false);
    hasher.expect_decoy_hash().times(1).returning(|| PasswordHash("decoy-hash".to_owned()));
    // A repository without expectations refuses every call.
    let service = service(MockUserRepository::new(), hasher, non_encoding_codec(), untouched_store(), silent_mailer());

    let error = service.login("ada\0", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_an_unknown_account_fails_even_if_the_decoy_hash_matched() {
    let mut hasher = hasher_verifying("decoy-hash", true);
    hasher.expect_decoy_hash().returning(|| PasswordHash("decoy-hash".to_owned()));
    let service =
        service(users_finding_credentials(None), hasher, non_encoding_codec(), untouched_store(), silent_mailer());

    let error = service.login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

/// A login service for the fixture user whose password check answers `matches`; nothing is
/// encoded or stored.
fn failing_login(credentials: Option<UserCredentials>, matches: bool) -> Service {
    service(
        users_finding_credentials(credentials),
        hasher_verifying("stored-hash", matches),
        non_encoding_codec(),
        untouched_store(),
        silent_mailer(),
    )
}

#[tokio::test]
async fn login_with_a_wrong_password_fails_with_invalid_credentials() {
    let error = failing_login(Some(credentials(true)), false).login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_does_not_reveal_an_unconfirmed_email_to_a_wrong_password() {
    let error = failing_login(Some(credentials(false)), false).login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::InvalidCredentials), "{error:?}");
}

#[tokio::test]
async fn login_with_the_right_password_but_an_unconfirmed_email_is_refused() {
    let error = failing_login(Some(credentials(false)), true).login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::EmailNotConfirmed), "{error:?}");
}

/// A store whose `store_refresh` records what it is given and answers `result`; nothing else.
fn refresh_storing_store(
    result: fn() -> Result<(), Error>,
) -> (MockTokenStore, Recorded<(UserId, String, DateTime<Utc>)>) {
    let stored: Recorded<(UserId, String, DateTime<Utc>)> = Arc::default();
    // A bare mock: any other call panics.
    let mut store = MockTokenStore::new();
    let sink = Arc::clone(&stored);
    store.expect_store_refresh().times(1).returning(move |user, fingerprint, expires_at| {
        sink.lock().unwrap().push((user, fingerprint.to_owned(), expires_at));
        result()
    });
    (store, stored)
}

#[tokio::test]
async fn login_issues_an_access_and_a_refresh_token_and_stores_the_refresh_fingerprint() {
    let (tokens, issued) = recording_codec();
    let (store, stored) = refresh_storing_store(|| Ok(()));
    let service = service(
        users_finding_credentials(Some(credentials(true))),
        hasher_verifying("stored-hash", true),
        tokens,
        store,
        silent_mailer(),
    );

    let pair = service.login("ada", "correct horse").await.unwrap();

    assert_eq!(
        pair,
        TokenPair { access_token: "tok-access".to_owned(), refresh_token: "tok-refresh".to_owned(), expires_in: 900 }
    );
    let issued_at = now_whole_seconds();
    let refresh_expires_at = expiry_after(Duration::seconds(604_800));
    let issued_claims = recorded(&issued);
    // A fresh session id, random (128 bits, hex), shared by both tokens of the pair.
    let session = issued_claims[0].session.clone().expect("a session id");
    assert!(session.len() == 32 && session.chars().all(|c| c.is_ascii_hexdigit()), "{session}");
    assert_eq!(
        issued_claims,
        vec![
            Claims {
                subject: USER_ID,
                kind: TokenKind::Access,
                issued_at,
                expires_at: expiry_after(Duration::seconds(900)),
                version: TOKEN_VERSION,
                session: Some(session.clone()),
            },
            Claims {
                subject: USER_ID,
                kind: TokenKind::Refresh,
                issued_at,
                expires_at: refresh_expires_at,
                version: TOKEN_VERSION,
                session: Some(session.clone()),
            },
        ]
    );
    assert_eq!(issued_at.timestamp_subsec_nanos(), 0);
    assert!(refresh_expires_at - now() >= Duration::seconds(604_800), "never less than the lifetime");
    assert!(refresh_expires_at - now() < Duration::seconds(604_801), "nor a second more");
    // Only the fingerprint is stored, never the token itself.
    assert_eq!(recorded(&stored), vec![(USER_ID, fingerprint(&pair.refresh_token), refresh_expires_at)]);
    assert_ne!(fingerprint(&pair.refresh_token), pair.refresh_token);
}

#[tokio::test]
async fn login_issues_tokens_under_the_users_current_token_version() {
    let (tokens, issued) = recording_codec();
    let (store, _) = refresh_storing_store(|| Ok(()));
    let bumped = UserCredentials { user: User { token_version: 42, ..user(true) }, ..credentials(true) };
    let service = service(
        users_finding_credentials(Some(bumped)),
        hasher_verifying("stored-hash", true),
        tokens,
        store,
        silent_mailer(),
    );

    service.login("ada", "correct horse").await.unwrap();

    let versions: Vec<i64> = recorded(&issued).iter().map(|claims| claims.version).collect();
    assert_eq!(versions, vec![42, 42]);
}

#[tokio::test]
async fn login_fails_when_the_refresh_token_cannot_be_stored() {
    let (tokens, _) = recording_codec();
    let (store, _) = refresh_storing_store(|| Err(Error::unexpected("database down")));
    let service = service(
        users_finding_credentials(Some(credentials(true))),
        hasher_verifying("stored-hash", true),
        tokens,
        store,
        silent_mailer(),
    );

    let error = service.login("ada", "correct horse").await.unwrap_err();

    assert!(matches!(error, Error::Unexpected(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// confirm_email

fn confirming(token_claims: Option<Claims>, users: MockUserRepository) -> Service {
    let tokens = decoding_codec("the-token", TokenKind::EmailConfirmation, token_claims);
    service(users, unused_hasher(), tokens, untouched_store(), silent_mailer())
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

/// Two clicks at once both read an unconfirmed user; the store confirms for one of them only.
#[tokio::test]
async fn confirm_email_that_another_click_won_says_already_confirmed() {
    let mut users = users_finding_by_id(Some(user(false)));
    users.expect_confirm_email().times(1).returning(|_| Ok(None));
    let valid = claims(TokenKind::EmailConfirmation, now() + Duration::hours(1));

    let outcome = confirming(Some(valid), users).confirm_email("the-token").await.unwrap();

    assert_eq!(outcome, ConfirmationOutcome::AlreadyConfirmed);
}

// ---------------------------------------------------------------------------------------------
// request_confirmation_email

#[tokio::test]
async fn request_confirmation_email_for_an_unknown_address_succeeds_without_mail() {
    let service = service(
        users_finding_by_email(None),
        unused_hasher(),
        non_encoding_codec(),
        untouched_store(),
        silent_mailer(),
    );

    service.request_confirmation_email(EmailAddress::parse("email", "ada@example.org").unwrap()).await.unwrap();
}

#[tokio::test]
async fn request_confirmation_email_for_a_confirmed_user_succeeds_without_mail() {
    let service = service(
        users_finding_by_email(Some(user(true))),
        unused_hasher(),
        non_encoding_codec(),
        untouched_store(),
        silent_mailer(),
    );

    service.request_confirmation_email(EmailAddress::parse("email", "ada@example.org").unwrap()).await.unwrap();
}

#[tokio::test]
async fn request_confirmation_email_for_an_unconfirmed_user_sends_one_link() {
    let (tokens, issued) = recording_codec();
    let (mailer, sent) = recording_mailer();
    let service =
        service(users_finding_by_email(Some(user(false))), unused_hasher(), tokens, untouched_store(), mailer);

    service.request_confirmation_email(EmailAddress::parse("email", "ada@example.org").unwrap()).await.unwrap();

    let sent = recorded(&sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.as_str(), "ada@example.org");
    let link = confirmation_link("tok-email_confirmation");
    assert!(sent[0].text.lines().any(|line| line == link), "no line {link:?} in {:?}", sent[0].text);
    let issued = recorded(&issued);
    assert_eq!(issued.len(), 1);
    assert_eq!(issued[0].kind, TokenKind::EmailConfirmation);
    assert_eq!(issued[0].expires_at, expiry_after(Duration::seconds(86_400)));
}

// ---------------------------------------------------------------------------------------------
// authenticate

fn authenticating(token_claims: Option<Claims>, users: MockUserRepository) -> Service {
    let tokens = decoding_codec("access-token", TokenKind::Access, token_claims);
    service(users, unused_hasher(), tokens, untouched_store(), silent_mailer())
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

#[tokio::test]
async fn authenticate_refuses_a_token_issued_under_another_token_version() {
    // Older (issued before a password reset) and, for good measure, newer than the user's.
    for version in [TOKEN_VERSION - 1, TOKEN_VERSION + 1] {
        let stale = Claims { version, ..claims(TokenKind::Access, now() + Duration::hours(1)) };

        let error =
            authenticating(Some(stale), users_finding_by_id(Some(user(true)))).authenticate("access-token").await;

        assert!(matches!(error, Err(Error::Unauthenticated)), "version {version}: {error:?}");
    }
}

#[tokio::test]
async fn authenticate_accepts_a_token_issued_under_the_users_current_version() {
    let reset_user = User { token_version: 9, ..user(true) };
    let current = Claims { version: 9, ..claims(TokenKind::Access, now() + Duration::hours(1)) };

    let authenticated =
        authenticating(Some(current), users_finding_by_id(Some(reset_user.clone()))).authenticate("access-token").await;

    assert_eq!(authenticated.unwrap(), reset_user);
}

#[tokio::test]
async fn authenticate_refuses_a_token_of_a_session_that_was_logged_out() {
    let logged_out = User { ended_sessions: vec!["other".to_owned(), SESSION.to_owned()], ..user(true) };
    let token = claims(TokenKind::Access, now() + Duration::hours(1));

    let error = authenticating(Some(token), users_finding_by_id(Some(logged_out))).authenticate("access-token").await;

    assert!(matches!(error, Err(Error::Unauthenticated)), "{error:?}");
}

#[tokio::test]
async fn authenticate_accepts_a_token_of_another_session_than_those_logged_out() {
    let other_logged_out = User { ended_sessions: vec!["other".to_owned()], ..user(true) };
    let token = claims(TokenKind::Access, now() + Duration::hours(1));

    let authenticated = authenticating(Some(token), users_finding_by_id(Some(other_logged_out.clone())))
        .authenticate("access-token")
        .await;

    assert_eq!(authenticated.unwrap(), other_logged_out);
}
