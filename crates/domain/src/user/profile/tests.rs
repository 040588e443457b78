use super::*;

use chrono::{DateTime, Duration, TimeZone, Utc};
use mockall::Sequence;

use crate::clock::MockClock;
use crate::email::EmailAddress;
use crate::user::{MockAvatarStore, MockRateLimiter, MockUserRepository, UserId};

type Service = ProfileService<MockUserRepository, MockRateLimiter, MockAvatarStore, MockClock>;

const USER_ID: UserId = UserId(7);
/// The per-minute limit of every test.
const LIMIT: u64 = 3;
const OLD_AVATAR: &str = "/media/avatars/old.png";
const NEW_AVATAR: &str = "/media/avatars/new.png";

fn at(h: u32, m: u32, s: u32, ms: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 15, h, m, s).unwrap() + Duration::milliseconds(ms)
}

/// 12:00:00 on the test day, as Unix seconds: 2025-06-15 is day 20254 of the epoch.
const NOON: i64 = 20_254 * 86_400 + 12 * 3_600;

fn clock_at(now: DateTime<Utc>) -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now);
    clock.expect_today().return_const(now.date_naive());
    clock
}

fn user(role: Role, avatar: Option<&str>) -> User {
    User {
        id: USER_ID,
        username: "ada".to_owned(),
        email: EmailAddress::from_trusted("ada@example.org".to_owned()),
        avatar: avatar.map(str::to_owned),
        role,
        confirmed: true,
        created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        token_version: 3,
        ended_sessions: Vec::new(),
    }
}

fn unavailable(what: &'static str) -> Error {
    Error::Unavailable(what.into())
}

fn untouched_users() -> MockUserRepository {
    // A mock without expectations panics on any call.
    MockUserRepository::new()
}

fn untouched_limiter() -> MockRateLimiter {
    let mut limiter = MockRateLimiter::new();
    limiter.expect_hit().never();
    limiter
}

fn untouched_avatars() -> MockAvatarStore {
    let mut avatars = MockAvatarStore::new();
    avatars.expect_store().never();
    avatars.expect_remove().never();
    avatars
}

fn service(users: MockUserRepository, limiter: MockRateLimiter, avatars: MockAvatarStore, clock: MockClock) -> Service {
    ProfileService::new(ProfilePorts { users, limiter, avatars, clock }, LIMIT)
}

/// A limiter expecting one hit on the user's key in the window starting at `window_start`,
/// answering `counted`.
fn limiter_hit(window_start: i64, counted: fn() -> Result<u64, Error>) -> MockRateLimiter {
    let mut limiter = MockRateLimiter::new();
    limiter
        .expect_hit()
        .withf(move |key, start, seconds| key == "me:7" && *start == window_start && *seconds == 60)
        .times(1)
        .returning(move |_, _, _| counted());
    limiter
}

fn profile_service(now: DateTime<Utc>, limiter: MockRateLimiter) -> Service {
    service(untouched_users(), limiter, untouched_avatars(), clock_at(now))
}

// ---------------------------------------------------------------------------------------------
// profile

#[test]
fn the_test_day_starts_where_the_constant_says() {
    assert_eq!(at(12, 0, 0, 0).timestamp(), NOON);
}

#[tokio::test]
async fn profile_counts_a_hit_for_the_user_in_the_current_minute() {
    let service = profile_service(at(12, 0, 45, 250), limiter_hit(NOON, || Ok(1)));

    assert_eq!(service.profile(user(Role::User, None)).await.unwrap(), user(Role::User, None));
}

#[tokio::test]
async fn profile_allows_exactly_the_limit() {
    let service = profile_service(at(12, 0, 45, 250), limiter_hit(NOON, || Ok(LIMIT)));

    assert_eq!(service.profile(user(Role::User, None)).await.unwrap(), user(Role::User, None));
}

#[tokio::test]
async fn profile_past_the_limit_is_rate_limited_until_the_window_resets() {
    let service = profile_service(at(12, 0, 45, 250), limiter_hit(NOON, || Ok(LIMIT + 1)));

    let error = service.profile(user(Role::User, None)).await.unwrap_err();
    assert!(matches!(error, Error::RateLimited { retry_after: 15 }), "{error:?}");
}

#[tokio::test]
async fn profile_far_past_the_limit_is_still_rate_limited() {
    let service = profile_service(at(12, 0, 45, 0), limiter_hit(NOON, || Ok(LIMIT + 100)));

    let error = service.profile(user(Role::User, None)).await.unwrap_err();
    assert!(matches!(error, Error::RateLimited { retry_after: 15 }), "{error:?}");
}

#[tokio::test]
async fn a_new_window_starts_on_the_minute() {
    let service = profile_service(at(12, 1, 0, 0), limiter_hit(NOON + 60, || Ok(LIMIT + 1)));

    let error = service.profile(user(Role::User, None)).await.unwrap_err();
    assert!(matches!(error, Error::RateLimited { retry_after: 60 }), "{error:?}");
}

#[tokio::test]
async fn the_last_second_of_a_window_retries_after_one_second() {
    let service = profile_service(at(12, 0, 59, 999), limiter_hit(NOON, || Ok(LIMIT + 1)));

    let error = service.profile(user(Role::User, None)).await.unwrap_err();
    assert!(matches!(error, Error::RateLimited { retry_after: 1 }), "{error:?}");
}

#[tokio::test]
async fn profile_counts_each_user_under_their_own_key() {
    let mut limiter = MockRateLimiter::new();
    limiter.expect_hit().withf(|key, _, _| key == "me:42").times(1).returning(|_, _, _| Ok(1));
    let service = profile_service(at(12, 0, 45, 0), limiter);
    let other = User { id: UserId(42), ..user(Role::User, None) };

    assert_eq!(service.profile(other.clone()).await.unwrap(), other);
}

#[tokio::test]
async fn profile_fails_open_when_the_limiter_is_unavailable() {
    let service = profile_service(at(12, 0, 45, 250), limiter_hit(NOON, || Err(unavailable("redis down"))));

    assert_eq!(service.profile(user(Role::User, None)).await.unwrap(), user(Role::User, None));
}

// ---------------------------------------------------------------------------------------------
// require_role

#[test]
fn require_role_lets_the_role_through_and_refuses_others() {
    assert!(require_role(&user(Role::Admin, None), Role::Admin).is_ok());
    assert!(require_role(&user(Role::User, None), Role::User).is_ok());
    assert!(matches!(require_role(&user(Role::User, None), Role::Admin), Err(Error::Forbidden)));
}

// ---------------------------------------------------------------------------------------------
// change_avatar

fn upload() -> Vec<u8> {
    b"\x89PNG\r\n\x1a\n-an-image".to_vec()
}

/// A store expecting the upload once, in `seq`, answering `stored`.
fn store_expecting_upload(avatars: &mut MockAvatarStore, seq: &mut Sequence, stored: fn() -> Result<String, Error>) {
    avatars.expect_store().withf(|bytes| *bytes == upload()).times(1).in_sequence(seq).returning(move |_| stored());
}

/// The updated user and the avatar URL the update replaced.
type Replaced = (User, Option<String>);

/// A repository expecting the new avatar for the user once, in `seq`, answering `updated`.
fn users_updating_avatar(seq: &mut Sequence, updated: fn() -> Result<Option<Replaced>, Error>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().never();
    users
        .expect_update_avatar()
        .withf(|id, url| *id == USER_ID && url == NEW_AVATAR)
        .times(1)
        .in_sequence(seq)
        .returning(move |_, _| updated());
    users
}

fn updated_admin() -> User {
    user(Role::Admin, Some(NEW_AVATAR))
}

#[tokio::test]
async fn a_non_admin_cannot_change_the_avatar_and_nothing_is_stored() {
    let service = service(untouched_users(), untouched_limiter(), untouched_avatars(), clock_at(at(12, 0, 0, 0)));

    let error = service.change_avatar(&user(Role::User, Some(OLD_AVATAR)), upload()).await.unwrap_err();
    assert!(matches!(error, Error::Forbidden), "{error:?}");
}

#[tokio::test]
async fn an_admin_avatar_is_stored_saved_and_the_previous_one_removed() {
    let mut seq = Sequence::new();
    let mut avatars = MockAvatarStore::new();
    store_expecting_upload(&mut avatars, &mut seq, || Ok(NEW_AVATAR.to_owned()));
    let users = users_updating_avatar(&mut seq, || Ok(Some((updated_admin(), Some(OLD_AVATAR.to_owned())))));
    avatars.expect_remove().withf(|url| url == OLD_AVATAR).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
    let service = service(users, untouched_limiter(), avatars, clock_at(at(12, 0, 0, 0)));

    let updated = service.change_avatar(&user(Role::Admin, Some(OLD_AVATAR)), upload()).await.unwrap();
    assert_eq!(updated, updated_admin());
}

#[tokio::test]
async fn an_admin_without_a_previous_avatar_removes_nothing() {
    let mut seq = Sequence::new();
    let mut avatars = MockAvatarStore::new();
    store_expecting_upload(&mut avatars, &mut seq, || Ok(NEW_AVATAR.to_owned()));
    avatars.expect_remove().never();
    let users = users_updating_avatar(&mut seq, || Ok(Some((updated_admin(), None))));
    let service = service(users, untouched_limiter(), avatars, clock_at(at(12, 0, 0, 0)));

    let updated = service.change_avatar(&user(Role::Admin, None), upload()).await.unwrap();
    assert_eq!(updated, updated_admin());
}

#[tokio::test]
async fn the_file_removed_is_the_one_the_database_replaced_not_the_one_the_caller_saw() {
    // Another upload won the race: the caller still saw OLD_AVATAR, the database held RACED.
    const RACED: &str = "http://app.test/media/raced.png";
    let mut seq = Sequence::new();
    let mut avatars = MockAvatarStore::new();
    store_expecting_upload(&mut avatars, &mut seq, || Ok(NEW_AVATAR.to_owned()));
    let users = users_updating_avatar(&mut seq, || Ok(Some((updated_admin(), Some(RACED.to_owned())))));
    avatars.expect_remove().withf(|url| url == RACED).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
    let service = service(users, untouched_limiter(), avatars, clock_at(at(12, 0, 0, 0)));

    let updated = service.change_avatar(&user(Role::Admin, Some(OLD_AVATAR)), upload()).await.unwrap();
    assert_eq!(updated, updated_admin());
}

#[tokio::test]
async fn an_unsupported_upload_is_refused_and_nothing_is_updated() {
    let mut seq = Sequence::new();
    let mut avatars = MockAvatarStore::new();
    store_expecting_upload(&mut avatars, &mut seq, || Err(Error::UnsupportedMedia));
    avatars.expect_remove().never();
    let service = service(untouched_users(), untouched_limiter(), avatars, clock_at(at(12, 0, 0, 0)));

    let error = service.change_avatar(&user(Role::Admin, Some(OLD_AVATAR)), upload()).await.unwrap_err();
    assert!(matches!(error, Error::UnsupportedMedia), "{error:?}");
}

#[tokio::test]
async fn a_failure_to_remove_the_previous_avatar_is_ignored() {
    let mut seq = Sequence::new();
    let mut avatars = MockAvatarStore::new();
    store_expecting_upload(&mut avatars, &mut seq, || Ok(NEW_AVATAR.to_owned()));
    let users = users_updating_avatar(&mut seq, || Ok(Some((updated_admin(), Some(OLD_AVATAR.to_owned())))));
    avatars
        .expect_remove()
        .withf(|url| url == OLD_AVATAR)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Err(unavailable("disk full")));
    let service = service(users, untouched_limiter(), avatars, clock_at(at(12, 0, 0, 0)));

    let updated = service.change_avatar(&user(Role::Admin, Some(OLD_AVATAR)), upload()).await.unwrap();
    assert_eq!(updated, updated_admin());
}

#[tokio::test]
async fn an_admin_gone_meanwhile_gets_unauthenticated_and_the_new_file_is_removed() {
    let mut seq = Sequence::new();
    let mut avatars = MockAvatarStore::new();
    store_expecting_upload(&mut avatars, &mut seq, || Ok(NEW_AVATAR.to_owned()));
    let users = users_updating_avatar(&mut seq, || Ok(None));
    avatars.expect_remove().withf(|url| url == NEW_AVATAR).times(1).in_sequence(&mut seq).returning(|_| Ok(()));
    let service = service(users, untouched_limiter(), avatars, clock_at(at(12, 0, 0, 0)));

    let error = service.change_avatar(&user(Role::Admin, Some(OLD_AVATAR)), upload()).await.unwrap_err();
    assert!(matches!(error, Error::Unauthenticated), "{error:?}");
}
