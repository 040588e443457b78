//! Sessions (refresh-token rotation, theft detection, logout), password reset and the purge of
//! expired tokens.

use super::fixtures::*;
use super::*;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mockall::Sequence;

use crate::auth::{MockPasswordHasher, MockTokenCodec, MockTokenStore};
use crate::user::{MockUserRepository, PasswordHash};

const OLD_REFRESH: &str = "old-refresh";
const RESET_TOKEN: &str = "reset-token";

/// What `rotate_refresh` received: old and new fingerprint, the new expiry and "now".
type Rotation = (String, String, DateTime<Utc>, DateTime<Utc>);

/// A codec that decodes exactly [`OLD_REFRESH`], as a refresh token, into `claims` and records
/// what it encodes.
fn refresh_codec(claims: Option<Claims>) -> (MockTokenCodec, Recorded<Claims>) {
    let (mut codec, issued) = recording_codec();
    codec
        .expect_decode()
        .withf(|token, kind| token == OLD_REFRESH && *kind == TokenKind::Refresh)
        .times(1)
        .return_const(claims);
    (codec, issued)
}

/// A store whose `rotate_refresh` is expected once, records its arguments and answers
/// `outcome`; `revoke_all_refresh` is expected `revoke_all` times, for the fixture user.
fn rotating_store(outcome: Result<RefreshRotation, Error>, revoke_all: usize) -> (MockTokenStore, Recorded<Rotation>) {
    let rotations: Recorded<Rotation> = Arc::default();
    let mut store = MockTokenStore::new();
    let sink = Arc::clone(&rotations);
    let mut outcome = Some(outcome);
    store.expect_rotate_refresh().times(1).returning(move |old, new, new_expires_at, now| {
        sink.lock().unwrap().push((old.to_owned(), new.to_owned(), new_expires_at, now));
        outcome.take().expect("rotate_refresh is called once")
    });
    store.expect_store_refresh().never();
    store.expect_revoke_all_refresh().withf(|user| *user == USER_ID).times(revoke_all).returning(|_| Ok(()));
    (store, rotations)
}

/// A refresh service for the fixture user, presenting claims that expire at `expires_at`.
fn refreshing(
    expires_at: DateTime<Utc>,
    outcome: Result<RefreshRotation, Error>,
    revoke_all: usize,
) -> (Service, Recorded<Claims>, Recorded<Rotation>) {
    let (tokens, issued) = refresh_codec(Some(claims(TokenKind::Refresh, expires_at)));
    let (store, rotations) = rotating_store(outcome, revoke_all);
    let mut users = users_finding_by_id(Some(user(true)));
    // Theft ends every access token too, once per revocation of every refresh token.
    users.expect_end_all_sessions().withf(|id| *id == USER_ID).times(revoke_all).returning(|_| Ok(None));
    users.expect_end_session().never();
    let service = service(users, unused_hasher(), tokens, store, silent_mailer());
    (service, issued, rotations)
}

/// A service that must refuse [`OLD_REFRESH`] before loading a user or touching the store.
fn refusing_refresh(claims: Option<Claims>) -> Service {
    let tokens = decoding_codec(OLD_REFRESH, TokenKind::Refresh, claims);
    service(untouched_users(), unused_hasher(), tokens, untouched_store(), silent_mailer())
}

// ---------------------------------------------------------------------------------------------
// refresh

#[tokio::test]
async fn refresh_rotates_the_presented_token_into_a_new_pair() {
    let (service, issued, rotations) = refreshing(now() + Duration::days(3), Ok(RefreshRotation::Rotated), 0);

    let pair = service.refresh(OLD_REFRESH).await.unwrap();

    assert_eq!(
        pair,
        TokenPair { access_token: "tok-access".to_owned(), refresh_token: "tok-refresh".to_owned(), expires_in: 900 }
    );
    let issued_at = now_whole_seconds();
    let new_expires_at = expiry_after(Duration::seconds(604_800));
    assert_eq!(
        recorded(&rotations),
        vec![(fingerprint(OLD_REFRESH), fingerprint(&pair.refresh_token), new_expires_at, now())]
    );
    assert_eq!(
        recorded(&issued),
        vec![
            Claims {
                subject: USER_ID,
                kind: TokenKind::Access,
                issued_at,
                expires_at: expiry_after(Duration::seconds(900)),
                version: TOKEN_VERSION,
                // Still the session of the presented token: logout ends this pair too.
                session: Some(SESSION.to_owned()),
            },
            Claims {
                subject: USER_ID,
                kind: TokenKind::Refresh,
                issued_at,
                expires_at: new_expires_at,
                version: TOKEN_VERSION,
                session: Some(SESSION.to_owned()),
            },
        ]
    );
}

#[tokio::test]
async fn refresh_accepts_a_token_one_second_before_it_expires() {
    let (service, _, rotations) = refreshing(now() + Duration::seconds(1), Ok(RefreshRotation::Rotated), 0);

    service.refresh(OLD_REFRESH).await.unwrap();

    assert_eq!(recorded(&rotations).len(), 1);
}

#[tokio::test]
async fn refresh_refuses_a_token_at_the_instant_it_expires() {
    let expired = claims(TokenKind::Refresh, now());

    let error = refusing_refresh(Some(expired)).refresh(OLD_REFRESH).await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}

#[tokio::test]
async fn refresh_refuses_a_token_of_another_kind_without_touching_the_store() {
    // The codec answers `None` when asked for a refresh token, as it does for an access token.
    let error = refusing_refresh(None).refresh(OLD_REFRESH).await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}

#[tokio::test]
async fn refresh_for_a_user_that_no_longer_exists_fails_without_touching_the_store() {
    let tokens =
        decoding_codec(OLD_REFRESH, TokenKind::Refresh, Some(claims(TokenKind::Refresh, now() + Duration::hours(1))));
    let service = service(users_finding_by_id(None), unused_hasher(), tokens, untouched_store(), silent_mailer());

    let error = service.refresh(OLD_REFRESH).await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}

#[tokio::test]
async fn refresh_refuses_a_token_issued_before_every_session_was_ended_without_touching_the_store() {
    let mut stale = claims(TokenKind::Refresh, now() + Duration::hours(1));
    stale.version = TOKEN_VERSION - 1;
    let tokens = decoding_codec(OLD_REFRESH, TokenKind::Refresh, Some(stale));
    let service =
        service(users_finding_by_id(Some(user(true))), unused_hasher(), tokens, untouched_store(), silent_mailer());

    let error = service.refresh(OLD_REFRESH).await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}

#[tokio::test]
async fn refresh_with_a_reused_token_revokes_every_session_once_and_fails() {
    let (service, _, rotations) = refreshing(now() + Duration::hours(1), Ok(RefreshRotation::Reused), 1);

    let error = service.refresh(OLD_REFRESH).await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
    assert_eq!(recorded(&rotations)[0].0, fingerprint(OLD_REFRESH));
}

#[tokio::test]
async fn refresh_with_an_unknown_token_fails_without_revoking_other_sessions() {
    let (service, _, _) = refreshing(now() + Duration::hours(1), Ok(RefreshRotation::Unknown), 0);

    let error = service.refresh(OLD_REFRESH).await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}

#[tokio::test]
async fn refresh_propagates_a_store_failure_instead_of_calling_it_a_bad_token() {
    let (service, _, _) = refreshing(now() + Duration::hours(1), Err(Error::Unavailable("database down".into())), 0);

    let error = service.refresh(OLD_REFRESH).await.unwrap_err();

    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// logout

/// What `end_session` received: user, session, until and now.
type EndedSession = (UserId, String, DateTime<Utc>, DateTime<Utc>);

/// What `revoke_refresh` received: the fingerprint and "now".
type Revoked = Recorded<(String, DateTime<Utc>)>;

/// A logout service whose `revoke_refresh` answers `outcome` once and records its arguments;
/// `revoke_all_refresh` (and the users' `end_all_sessions`) is expected `revoke_all` times, for
/// the fixture user, and `end_session` is recorded.
fn logging_out(
    expires_at: DateTime<Utc>,
    outcome: RefreshRotation,
    revoke_all: usize,
) -> (Service, Recorded<(String, DateTime<Utc>)>) {
    let (service, revoked, _) = logging_out_recording(expires_at, outcome, revoke_all);
    (service, revoked)
}

fn logging_out_recording(
    expires_at: DateTime<Utc>,
    outcome: RefreshRotation,
    revoke_all: usize,
) -> (Service, Revoked, Recorded<EndedSession>) {
    let revoked: Recorded<(String, DateTime<Utc>)> = Arc::default();
    let mut store = MockTokenStore::new();
    let sink = Arc::clone(&revoked);
    store.expect_revoke_refresh().times(1).returning(move |fingerprint, now| {
        sink.lock().unwrap().push((fingerprint.to_owned(), now));
        Ok(outcome)
    });
    store.expect_rotate_refresh().never();
    store.expect_revoke_all_refresh().withf(|user| *user == USER_ID).times(revoke_all).returning(|_| Ok(()));
    let tokens = decoding_codec(OLD_REFRESH, TokenKind::Refresh, Some(claims(TokenKind::Refresh, expires_at)));
    let ended: Recorded<EndedSession> = Arc::default();
    let mut users = MockUserRepository::new();
    users.expect_end_all_sessions().withf(|id| *id == USER_ID).times(revoke_all).returning(|_| Ok(None));
    let sink = Arc::clone(&ended);
    users.expect_end_session().returning(move |id, session, until, now| {
        sink.lock().unwrap().push((id, session.to_owned(), until, now));
        Ok(None)
    });
    (service(users, unused_hasher(), tokens, store, silent_mailer()), revoked, ended)
}

#[tokio::test]
async fn logout_revokes_the_presented_token_one_second_before_it_expires() {
    let (service, revoked) = logging_out(now() + Duration::seconds(1), RefreshRotation::Rotated, 0);

    service.logout(OLD_REFRESH).await.unwrap();

    assert_eq!(recorded(&revoked), vec![(fingerprint(OLD_REFRESH), now())]);
}

#[tokio::test]
async fn logout_ends_the_access_tokens_of_its_session_for_as_long_as_they_could_live() {
    let (service, _, ended) = logging_out_recording(now() + Duration::hours(1), RefreshRotation::Rotated, 0);

    service.logout(OLD_REFRESH).await.unwrap();

    // As long as an access token issued at this very moment: its expiry is rounded up to a whole
    // second (the clock is 750 ms into one), and the record must not end before it.
    assert_eq!(recorded(&ended), vec![(USER_ID, SESSION.to_owned(), expiry_after(Duration::seconds(900)), now())]);
    assert!(expiry_after(Duration::seconds(900)) > now() + Duration::seconds(900));
}

#[tokio::test]
async fn logout_with_a_reused_token_revokes_every_session_once_and_fails() {
    let (service, _, ended) = logging_out_recording(now() + Duration::hours(1), RefreshRotation::Reused, 1);

    let error = service.logout(OLD_REFRESH).await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
    // Every session ended (the token version), not just this one.
    assert_eq!(recorded(&ended), vec![]);
}

#[tokio::test]
async fn logout_with_an_unknown_token_ends_no_session() {
    let (service, _, ended) = logging_out_recording(now() + Duration::hours(1), RefreshRotation::Unknown, 0);

    assert!(matches!(service.logout(OLD_REFRESH).await, Err(Error::Unauthenticated)));
    assert_eq!(recorded(&ended), vec![]);
}

#[tokio::test]
async fn logout_with_an_unknown_token_fails_without_revoking_other_sessions() {
    let (service, _) = logging_out(now() + Duration::hours(1), RefreshRotation::Unknown, 0);

    let error = service.logout(OLD_REFRESH).await.unwrap_err();

    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}

#[tokio::test]
async fn logout_refuses_an_expired_or_wrong_kind_token_without_touching_the_store() {
    for presented in [Some(claims(TokenKind::Refresh, now())), None] {
        let error = refusing_refresh(presented.clone()).logout(OLD_REFRESH).await;

        assert!(matches!(error, Err(Error::Unauthenticated)), "{presented:?}: {error:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// request_password_reset

fn reset_link(token: &str) -> String {
    format!("{BASE_URL}/reset-password?token={token}")
}

#[test]
fn a_mail_request_needs_a_valid_address() {
    for (input, kind) in [(Some("not an email"), "InvalidEmail"), (None, "Missing")] {
        let error = requested_address(input.map(str::to_owned)).unwrap_err();
        assert_eq!(field_problems(error), vec![("email".to_owned(), kind)], "{input:?}");
    }
    assert_eq!(requested_address(Some("ada@example.org".to_owned())).unwrap(), address("ada@example.org"));
}

fn address(raw: &str) -> EmailAddress {
    EmailAddress::parse("email", raw).unwrap()
}

/// A request recorded before the answer is handled after it: the reset link is queued, and
/// the request forgotten.
#[tokio::test]
async fn a_recorded_reset_request_is_handled_then_forgotten() {
    let (outbox, sent) = recording_mailer();
    let (requests, handled) = (Arc::clone(&outbox.requests), Arc::clone(&outbox.handled));
    let (tokens, _) = recording_codec();
    let service = service(users_finding_by_email(Some(user(true))), unused_hasher(), tokens, untouched_store(), outbox);

    let request = service.record_mail_request(MailKind::PasswordReset, address("ada@example.org")).await.unwrap();
    assert_eq!(recorded(&requests), vec![request.clone()]);
    assert!(recorded(&sent).is_empty(), "nothing is done before the answer");

    service.handle_mail_request(request.clone()).await.unwrap();
    assert_eq!(recorded(&sent).len(), 1);
    assert!(recorded(&sent)[0].text.contains("/reset-password?token="));
    assert_eq!(recorded(&handled), vec![request.id]);
}

/// Requests whose instance died before it handled them are handled by whichever claims them.
#[tokio::test]
async fn requests_left_by_a_dead_instance_are_handled_by_another() {
    let outbox = FakeOutbox::default();
    let (decoys, handled) = (Arc::clone(&outbox.decoys), Arc::clone(&outbox.handled));
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().times(2).returning(|_| Ok(None));
    let service = service(users, unused_hasher(), non_encoding_codec(), untouched_store(), outbox);
    for raw in ["a@example.org", "b@example.org"] {
        service.record_mail_request(MailKind::Confirmation, address(raw)).await.unwrap();
    }

    assert_eq!(service.handle_left_mail_requests(10).await.unwrap(), 2);
    assert_eq!(recorded(&decoys), vec!["a@example.org".to_owned(), "b@example.org".to_owned()]);
    assert_eq!(recorded(&handled), vec![1, 2]);
    assert_eq!(service.handle_left_mail_requests(10).await.unwrap(), 0, "nothing left");
}

#[tokio::test]
async fn request_password_reset_for_an_unknown_address_queues_nothing_but_does_the_same_work() {
    let outbox = silent_mailer();
    let decoys = Arc::clone(&outbox.decoys);
    let service =
        service(users_finding_by_email(None), unused_hasher(), non_encoding_codec(), untouched_store(), outbox);

    service.request_password_reset(address("ada@example.org")).await.unwrap();

    assert_eq!(recorded(&decoys), vec!["ada@example.org".to_owned()]);
}

#[tokio::test]
async fn request_password_reset_queues_the_link_with_its_fingerprint() {
    let (tokens, issued) = recording_codec();
    let (outbox, sent) = recording_mailer();
    let effects = Arc::clone(&outbox.effects);
    let service = service(users_finding_by_email(Some(user(true))), unused_hasher(), tokens, untouched_store(), outbox);

    service.request_password_reset(address("ada@example.org")).await.unwrap();

    let expires_at = expiry_after(Duration::seconds(3_600));
    assert_eq!(
        recorded(&issued),
        vec![Claims {
            subject: USER_ID,
            kind: TokenKind::PasswordReset,
            issued_at: now_whole_seconds(),
            expires_at,
            version: TOKEN_VERSION,
            session: None,
        }]
    );
    assert_eq!(
        recorded(&effects),
        vec![MailEffect::StoreReset { user: USER_ID, fingerprint: fingerprint("tok-password_reset"), expires_at }]
    );
    let sent = recorded(&sent);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to.as_str(), "ada@example.org");
    let link = reset_link("tok-password_reset");
    assert!(sent[0].text.lines().any(|line| line == link), "no line {link:?} in {:?}", sent[0].text);
}

#[tokio::test]
async fn request_password_reset_answers_as_usual_when_the_flood_guard_holds_the_mail_back() {
    let (tokens, _) = recording_codec();
    let outbox = FakeOutbox { held_back: true, ..FakeOutbox::default() };
    let service = service(users_finding_by_email(Some(user(true))), unused_hasher(), tokens, untouched_store(), outbox);

    service.request_password_reset(address("ada@example.org")).await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// reset_password

fn reset_input(token: Option<&str>, new_password: Option<&str>) -> PasswordResetInput {
    PasswordResetInput { token: token.map(str::to_owned), new_password: new_password.map(str::to_owned) }
}

/// A service that must refuse the input before decoding the token or touching anything.
fn rejecting_reset_input() -> Service {
    let mut tokens = non_encoding_codec();
    tokens.expect_decode().never();
    service(untouched_users(), unused_hasher(), tokens, untouched_store(), silent_mailer())
}

/// A service that must refuse [`RESET_TOKEN`] before consuming it or touching the user.
fn refusing_reset_token(claims: Option<Claims>) -> Service {
    let tokens = decoding_codec(RESET_TOKEN, TokenKind::PasswordReset, claims);
    service(untouched_users(), unused_hasher(), tokens, untouched_store(), silent_mailer())
}

/// A store whose `consume_reset` answers `found` once, for [`RESET_TOKEN`]'s fingerprint at
/// `now()`; nothing else of it is expected unless the caller adds it.
fn consuming_store(found: Option<UserId>) -> MockTokenStore {
    let mut store = MockTokenStore::new();
    store
        .expect_consume_reset()
        .withf(|fingerprint_, at| fingerprint_ == fingerprint(RESET_TOKEN) && *at == now())
        .times(1)
        .returning(move |_, _| Ok(found));
    store
}

/// The user after a reset: `update_password` bumped the token version.
fn reset_user() -> User {
    User { token_version: TOKEN_VERSION + 1, ..user(true) }
}

/// Everything a successful reset with `password` needs, each step expected once, in order:
/// read the account, consume the token, hash, update the password, revoke every refresh token.
fn resetting(password: &str) -> Service {
    let expected = password.to_owned();
    let mut order = Sequence::new();
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_id()
        .withf(|id| *id == USER_ID)
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(Some(user(true))));
    let mut store = MockTokenStore::new();
    store
        .expect_consume_reset()
        .withf(|fingerprint_, at| fingerprint_ == fingerprint(RESET_TOKEN) && *at == now())
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(Some(USER_ID)));
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .withf(move |candidate| candidate.expose() == expected)
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(PasswordHash("new-hash".to_owned())));
    users
        .expect_update_password()
        .withf(|id, hash| *id == USER_ID && hash.0 == "new-hash")
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Ok(Some(reset_user())));
    store
        .expect_revoke_all_refresh()
        .withf(|user| *user == USER_ID)
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(()));
    let tokens = decoding_codec(
        RESET_TOKEN,
        TokenKind::PasswordReset,
        Some(claims(TokenKind::PasswordReset, now() + Duration::seconds(1))),
    );
    service(users, hasher, tokens, store, silent_mailer())
}

#[tokio::test]
async fn reset_password_reports_both_missing_fields_at_once() {
    let error = rejecting_reset_input().reset_password(PasswordResetInput::default()).await.unwrap_err();

    assert_eq!(field_problems(error), vec![("token".to_owned(), "Missing"), ("new_password".to_owned(), "Missing")]);
}

#[tokio::test]
async fn reset_password_reports_a_missing_token_and_a_short_password_together() {
    let error = rejecting_reset_input().reset_password(reset_input(None, Some("short"))).await.unwrap_err();

    assert_eq!(field_problems(error), vec![("token".to_owned(), "Missing"), ("new_password".to_owned(), "TooShort")]);
}

#[tokio::test]
async fn reset_password_refuses_passwords_outside_8_to_72_bytes_before_looking_at_the_token() {
    let too_long = "x".repeat(73);
    for (password, kind) in [("1234567", "TooShort"), (too_long.as_str(), "TooLong")] {
        let input = reset_input(Some(RESET_TOKEN), Some(password));

        let error = rejecting_reset_input().reset_password(input).await.unwrap_err();

        assert_eq!(field_problems(error), vec![("new_password".to_owned(), kind)], "{password:?}");
    }
}

#[tokio::test]
async fn reset_password_refuses_a_token_the_codec_rejects() {
    // The codec answers `None` when asked for a reset token, as it does for a confirmation token.
    let input = reset_input(Some(RESET_TOKEN), Some("new password!"));

    let error = refusing_reset_token(None).reset_password(input).await.unwrap_err();

    assert!(matches!(error, Error::InvalidResetToken), "{error:?}");
}

#[tokio::test]
async fn reset_password_refuses_a_token_at_the_instant_it_expires() {
    let expired = claims(TokenKind::PasswordReset, now());
    let input = reset_input(Some(RESET_TOKEN), Some("new password!"));

    let error = refusing_reset_token(Some(expired)).reset_password(input).await.unwrap_err();

    assert!(matches!(error, Error::InvalidResetToken), "{error:?}");
}

#[tokio::test]
async fn reset_password_works_only_once() {
    // The store answers `None` for a token already used (or expired, or unknown).
    let mut store = consuming_store(None);
    store.expect_revoke_all_refresh().never();
    let tokens = decoding_codec(
        RESET_TOKEN,
        TokenKind::PasswordReset,
        Some(claims(TokenKind::PasswordReset, now() + Duration::minutes(30))),
    );
    let service = service(users_finding_by_id(Some(user(true))), unused_hasher(), tokens, store, silent_mailer());

    let error = service.reset_password(reset_input(Some(RESET_TOKEN), Some("new password!"))).await.unwrap_err();

    assert!(matches!(error, Error::InvalidResetToken), "{error:?}");
}

#[tokio::test]
async fn reset_password_refuses_a_token_the_store_holds_for_another_user() {
    let mut store = consuming_store(Some(UserId(USER_ID.0 + 1)));
    store.expect_revoke_all_refresh().never();
    let tokens = decoding_codec(
        RESET_TOKEN,
        TokenKind::PasswordReset,
        Some(claims(TokenKind::PasswordReset, now() + Duration::minutes(30))),
    );
    let service = service(users_finding_by_id(Some(user(true))), unused_hasher(), tokens, store, silent_mailer());

    let error = service.reset_password(reset_input(Some(RESET_TOKEN), Some("new password!"))).await.unwrap_err();

    assert!(matches!(error, Error::InvalidResetToken), "{error:?}");
}

#[tokio::test]
async fn reset_password_sets_the_new_password_then_ends_every_session() {
    let input = reset_input(Some(RESET_TOKEN), Some("new password!"));

    let updated = resetting("new password!").reset_password(input).await.unwrap();

    assert_eq!(updated, reset_user());
}

#[tokio::test]
async fn reset_password_accepts_passwords_of_8_and_72_bytes() {
    let widest = format!("{}abc", "€".repeat(23));
    for password in ["k8!x2zqv", widest.as_str()] {
        assert!([8, 72].contains(&password.len()), "{password:?}");
        let input = reset_input(Some(RESET_TOKEN), Some(password));

        let updated = resetting(password).reset_password(input).await;

        assert_eq!(updated.unwrap(), reset_user(), "{password:?}");
    }
}

#[tokio::test]
async fn reset_password_for_a_user_that_no_longer_exists_fails_and_revokes_nothing() {
    let mut store = consuming_store(Some(USER_ID));
    store.expect_revoke_all_refresh().never();
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().times(1).returning(|_| Ok(PasswordHash("new-hash".to_owned())));
    let mut users = users_finding_by_id(Some(user(true)));
    users.expect_update_password().times(1).returning(|_, _| Ok(None));
    let tokens = decoding_codec(
        RESET_TOKEN,
        TokenKind::PasswordReset,
        Some(claims(TokenKind::PasswordReset, now() + Duration::minutes(30))),
    );
    let service = service(users, hasher, tokens, store, silent_mailer());

    let error = service.reset_password(reset_input(Some(RESET_TOKEN), Some("new password!"))).await.unwrap_err();

    assert!(matches!(error, Error::InvalidResetToken), "{error:?}");
}

#[tokio::test]
async fn reset_password_refuses_a_password_like_the_account_before_spending_the_token() {
    // The fixture user is `ada` <ada@example.org>: the username, the address and its local part.
    for password in ["ADA@example.org", "Ada@Example.ORG"] {
        let tokens = decoding_codec(
            RESET_TOKEN,
            TokenKind::PasswordReset,
            Some(claims(TokenKind::PasswordReset, now() + Duration::minutes(30))),
        );
        let service =
            service(users_finding_by_id(Some(user(true))), unused_hasher(), tokens, untouched_store(), silent_mailer());

        let error = service.reset_password(reset_input(Some(RESET_TOKEN), Some(password))).await.unwrap_err();

        let Error::Invalid(problems) = error else { panic!("{password}: {error:?}") };
        let personal = crate::error::Rule::WeakPassword(crate::error::PasswordProblem::Personal);
        assert_eq!(problems, vec![crate::error::FieldError::new("new_password", personal)], "{password}");
    }
}

#[tokio::test]
async fn reset_password_for_an_account_gone_before_the_token_is_spent_is_an_invalid_token() {
    let tokens = decoding_codec(
        RESET_TOKEN,
        TokenKind::PasswordReset,
        Some(claims(TokenKind::PasswordReset, now() + Duration::minutes(30))),
    );
    let service = service(users_finding_by_id(None), unused_hasher(), tokens, untouched_store(), silent_mailer());

    let error = service.reset_password(reset_input(Some(RESET_TOKEN), Some("new password!"))).await.unwrap_err();

    assert!(matches!(error, Error::InvalidResetToken), "{error:?}");
}

// ---------------------------------------------------------------------------------------------
// purge_expired_tokens

#[tokio::test]
async fn purge_expired_tokens_asks_the_store_to_purge_as_of_now() {
    let mut store = MockTokenStore::new();
    store.expect_purge_expired().withf(|at| *at == now()).times(1).returning(|_| Ok(5));
    let service = service(untouched_users(), unused_hasher(), non_encoding_codec(), store, silent_mailer());

    assert_eq!(service.purge_expired_tokens().await.unwrap(), 5);
}
