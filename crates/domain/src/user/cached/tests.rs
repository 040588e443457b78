use super::*;

use chrono::{TimeZone, Utc};
use mockall::Sequence;

use crate::user::{CacheMark, Lookup, MockUserCache, MockUserRepository, Username};

const USER_ID: UserId = UserId(7);
const NEW_AVATAR: &str = "/media/avatars/new.png";
const NEW_HASH: &str = "$2b$12$new-hash";

fn email() -> EmailAddress {
    EmailAddress::from_trusted("ada@example.org".to_owned())
}

fn user() -> User {
    User {
        id: USER_ID,
        username: "ada".to_owned(),
        email: email(),
        avatar: Some("/media/avatars/old.png".to_owned()),
        role: Role::User,
        confirmed: true,
        created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        token_version: 3,
        ended_sessions: Vec::new(),
    }
}

fn unavailable(what: &'static str) -> Error {
    Error::Unavailable(what.into())
}

fn is_unavailable<T: std::fmt::Debug>(result: &Result<T, Error>) -> bool {
    matches!(result, Err(Error::Unavailable(_)))
}

/// The mark of the misses of these tests.
fn miss_mark() -> CacheMark {
    CacheMark(Some("forgotten:1".to_owned()))
}

fn miss() -> Lookup {
    Lookup::Miss(miss_mark())
}

/// A cache that must not be called at all.
fn untouched_cache() -> MockUserCache {
    let mut cache = MockUserCache::new();
    cache.expect_get().never();
    cache.expect_put().never();
    cache.expect_remove().never();
    cache
}

/// A repository that must not be called at all.
fn untouched_repository() -> MockUserRepository {
    // A mock without expectations panics on any call.
    MockUserRepository::new()
}

/// A cache whose `get` answers `found` once for the fixture id.
fn cache_getting(found: fn() -> Result<Lookup, Error>) -> MockUserCache {
    let mut cache = MockUserCache::new();
    cache.expect_get().withf(|id| *id == USER_ID).times(1).returning(move |_| found());
    cache.expect_remove().never();
    cache
}

/// A repository whose `find_by_id` answers `found` once for the fixture id, and does nothing else.
fn repository_finding(found: fn() -> Result<Option<User>, Error>) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().withf(|id| *id == USER_ID).times(1).returning(move |_| found());
    users
}

// ---------------------------------------------------------------------------------------------
// find_by_id

#[tokio::test]
async fn a_cache_hit_never_reads_the_repository() {
    let mut cache = cache_getting(|| Ok(Lookup::Hit(user())));
    cache.expect_put().never();
    let cached = CachedUsers::new(untouched_repository(), cache);

    assert_eq!(cached.find_by_id(USER_ID).await.unwrap(), Some(user()));
}

#[tokio::test]
async fn a_cache_miss_reads_the_repository_and_caches_the_user() {
    let mut seq = Sequence::new();
    let mut cache = MockUserCache::new();
    cache.expect_get().withf(|id| *id == USER_ID).times(1).in_sequence(&mut seq).returning(|_| Ok(miss()));
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().withf(|id| *id == USER_ID).times(1).in_sequence(&mut seq).returning(|_| Ok(Some(user())));
    // With what the miss saw, so a change dropping the entry meanwhile keeps this copy out.
    cache
        .expect_put()
        .withf(|cached, seen| *cached == user() && *seen == miss_mark())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    cache.expect_remove().never();
    let cached = CachedUsers::new(users, cache);

    assert_eq!(cached.find_by_id(USER_ID).await.unwrap(), Some(user()));
}

#[tokio::test]
async fn a_user_missing_from_both_is_none_and_nothing_is_cached() {
    let mut cache = cache_getting(|| Ok(miss()));
    cache.expect_put().never();
    let cached = CachedUsers::new(repository_finding(|| Ok(None)), cache);

    assert_eq!(cached.find_by_id(USER_ID).await.unwrap(), None);
}

#[tokio::test]
async fn a_cache_error_on_get_is_a_miss_whose_copy_is_not_put() {
    let mut cache = cache_getting(|| Err(unavailable("redis down")));
    // Without the entry's mark a copy could land over a change's: not put.
    cache.expect_put().never();
    let cached = CachedUsers::new(repository_finding(|| Ok(Some(user()))), cache);

    assert_eq!(cached.find_by_id(USER_ID).await.unwrap(), Some(user()));
}

#[tokio::test]
async fn a_cache_error_on_put_still_returns_the_user() {
    let mut cache = cache_getting(|| Ok(miss()));
    cache.expect_put().times(1).returning(|_, _| Err(unavailable("redis down")));
    let cached = CachedUsers::new(repository_finding(|| Ok(Some(user()))), cache);

    assert_eq!(cached.find_by_id(USER_ID).await.unwrap(), Some(user()));
}

#[tokio::test]
async fn a_repository_error_on_a_miss_is_returned_and_nothing_is_cached() {
    let mut cache = cache_getting(|| Ok(miss()));
    cache.expect_put().never();
    let cached = CachedUsers::new(repository_finding(|| Err(unavailable("database down"))), cache);

    assert!(is_unavailable(&cached.find_by_id(USER_ID).await));
}

// ---------------------------------------------------------------------------------------------
// changes

/// Every change the repository makes to a user.
#[derive(Debug, Clone, Copy)]
enum Change {
    ConfirmEmail,
    UpdatePassword,
    UpdateAvatar,
    SetRole,
    EndSession,
    EndAllSessions,
}

const CHANGES: [Change; 6] = [
    Change::ConfirmEmail,
    Change::UpdatePassword,
    Change::UpdateAvatar,
    Change::SetRole,
    Change::EndSession,
    Change::EndAllSessions,
];

/// The instant [`apply`] passes to `end_session`.
fn at() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

/// What the repository answers to a change.
#[derive(Debug, Clone, Copy)]
enum Outcome {
    Changed,
    Missing,
    Failed,
}

impl Outcome {
    fn result(self) -> Result<Option<User>, Error> {
        match self {
            Outcome::Changed => Ok(Some(User { confirmed: true, role: Role::Admin, ..user() })),
            Outcome::Missing => Ok(None),
            Outcome::Failed => Err(unavailable("database down")),
        }
    }
}

/// A repository expecting exactly `change`, with the arguments [`apply`] passes, once.
fn repository_changing(change: Change, outcome: Outcome, seq: &mut Sequence) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    users.expect_create().never();
    users.expect_find_by_id().never();
    users.expect_find_by_email().never();
    users.expect_find_credentials().never();
    match change {
        Change::ConfirmEmail => {
            users
                .expect_confirm_email()
                .withf(|id| *id == USER_ID)
                .times(1)
                .in_sequence(seq)
                .returning(move |_| outcome.result());
        }
        Change::UpdatePassword => {
            users
                .expect_update_password()
                .withf(|id, hash| *id == USER_ID && hash.0 == NEW_HASH)
                .times(1)
                .in_sequence(seq)
                .returning(move |_, _| outcome.result());
        }
        Change::UpdateAvatar => {
            users
                .expect_update_avatar()
                .withf(|id, avatar| *id == USER_ID && avatar == NEW_AVATAR)
                .times(1)
                .in_sequence(seq)
                .returning(move |_, _| outcome.result().map(|user| user.map(|user| (user, None))));
        }
        Change::SetRole => {
            users
                .expect_set_role()
                .withf(|email, role| email.as_str() == "ada@example.org" && *role == Role::Admin)
                .times(1)
                .in_sequence(seq)
                .returning(move |_, _| outcome.result());
        }
        Change::EndSession => {
            users
                .expect_end_session()
                .withf(|id, session, until, now| *id == USER_ID && session == "s1" && *until > *now && *now == at())
                .times(1)
                .in_sequence(seq)
                .returning(move |_, _, _, _| outcome.result());
        }
        Change::EndAllSessions => {
            users
                .expect_end_all_sessions()
                .withf(|id| *id == USER_ID)
                .times(1)
                .in_sequence(seq)
                .returning(move |_| outcome.result());
        }
    }
    if !matches!(change, Change::EndSession) {
        users.expect_end_session().never();
    }
    if !matches!(change, Change::EndAllSessions) {
        users.expect_end_all_sessions().never();
    }
    if !matches!(change, Change::ConfirmEmail) {
        users.expect_confirm_email().never();
    }
    if !matches!(change, Change::UpdatePassword) {
        users.expect_update_password().never();
    }
    if !matches!(change, Change::UpdateAvatar) {
        users.expect_update_avatar().never();
    }
    if !matches!(change, Change::SetRole) {
        users.expect_set_role().never();
    }
    users
}

async fn apply(cached: &CachedUsers<MockUserRepository, MockUserCache>, change: Change) -> Result<Option<User>, Error> {
    match change {
        Change::ConfirmEmail => cached.confirm_email(USER_ID).await,
        Change::UpdatePassword => cached.update_password(USER_ID, PasswordHash(NEW_HASH.to_owned())).await,
        Change::UpdateAvatar => cached.update_avatar(USER_ID, NEW_AVATAR).await.map(|c| c.map(|(user, _)| user)),
        Change::SetRole => cached.set_role(&email(), Role::Admin).await,
        Change::EndSession => cached.end_session(USER_ID, "s1", at() + chrono::Duration::minutes(15), at()).await,
        Change::EndAllSessions => cached.end_all_sessions(USER_ID).await,
    }
}

/// A cache expecting only `remove` of the fixture id, after the repository, answering `removed`.
fn cache_removing(seq: &mut Sequence, removed: fn() -> Result<(), Error>) -> MockUserCache {
    let mut cache = MockUserCache::new();
    cache.expect_get().never();
    cache.expect_put().never();
    cache.expect_remove().withf(|id| *id == USER_ID).times(1).in_sequence(seq).returning(move |_| removed());
    cache
}

#[tokio::test]
async fn every_change_goes_to_the_repository_then_drops_the_cached_user() {
    for change in CHANGES {
        let mut seq = Sequence::new();
        let users = repository_changing(change, Outcome::Changed, &mut seq);
        let cache = cache_removing(&mut seq, || Ok(()));
        let cached = CachedUsers::new(users, cache);

        assert_eq!(apply(&cached, change).await.unwrap(), Outcome::Changed.result().unwrap(), "{change:?}");
    }
}

#[tokio::test]
async fn a_change_still_succeeds_when_the_cache_cannot_drop_the_user() {
    for change in CHANGES {
        let mut seq = Sequence::new();
        let users = repository_changing(change, Outcome::Changed, &mut seq);
        let cache = cache_removing(&mut seq, || Err(unavailable("redis down")));
        let cached = CachedUsers::new(users, cache);

        assert_eq!(apply(&cached, change).await.unwrap(), Outcome::Changed.result().unwrap(), "{change:?}");
    }
}

#[tokio::test]
async fn a_change_to_a_missing_user_drops_nothing() {
    for change in CHANGES {
        let mut seq = Sequence::new();
        let users = repository_changing(change, Outcome::Missing, &mut seq);
        let cached = CachedUsers::new(users, untouched_cache());

        assert_eq!(apply(&cached, change).await.unwrap(), None, "{change:?}");
    }
}

#[tokio::test]
async fn a_failed_change_is_returned_and_drops_nothing() {
    for change in CHANGES {
        let mut seq = Sequence::new();
        let users = repository_changing(change, Outcome::Failed, &mut seq);
        let cached = CachedUsers::new(users, untouched_cache());

        assert!(is_unavailable(&apply(&cached, change).await), "{change:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// lookups that bypass the cache

#[tokio::test]
async fn find_credentials_never_touches_the_cache() {
    let mut users = MockUserRepository::new();
    users.expect_find_credentials().withf(|login| login == "ada").times(1).returning(|_| {
        Ok(Some(UserCredentials { user: user(), password_hash: PasswordHash("$2b$12$hash".to_owned()) }))
    });
    let cached = CachedUsers::new(users, untouched_cache());

    let credentials = cached.find_credentials("ada").await.unwrap().unwrap();
    assert_eq!(credentials.user, user());
    assert_eq!(credentials.password_hash, PasswordHash("$2b$12$hash".to_owned()));
}

#[tokio::test]
async fn find_by_email_never_touches_the_cache() {
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_email()
        .withf(|email| email.as_str() == "ada@example.org")
        .times(1)
        .returning(|_| Ok(Some(user())));
    let cached = CachedUsers::new(users, untouched_cache());

    assert_eq!(cached.find_by_email(&email()).await.unwrap(), Some(user()));
}

#[tokio::test]
async fn create_never_touches_the_cache() {
    let mut users = MockUserRepository::new();
    users
        .expect_create()
        .withf(|new_user| new_user.username.as_str() == "ada" && new_user.email == email())
        .times(1)
        .returning(|_| Ok(User { confirmed: false, ..user() }));
    let cached = CachedUsers::new(users, untouched_cache());

    let new_user = NewUser {
        username: Username::parse("ada").unwrap(),
        email: email(),
        password_hash: PasswordHash("$2b$12$hash".to_owned()),
        avatar: "https://www.gravatar.com/avatar/x".to_owned(),
    };
    assert_eq!(cached.create(new_user).await.unwrap(), User { confirmed: false, ..user() });
}

// ---------------------------------------------------------------------------------------------
// forget and cache

#[tokio::test]
async fn forget_drops_the_cached_user() {
    let mut seq = Sequence::new();
    let cached = CachedUsers::new(untouched_repository(), cache_removing(&mut seq, || Ok(())));

    cached.forget(USER_ID).await;
}

#[tokio::test]
async fn forget_swallows_cache_errors() {
    let mut seq = Sequence::new();
    let cached = CachedUsers::new(untouched_repository(), cache_removing(&mut seq, || Err(unavailable("redis down"))));

    // Returns `()`: reaching the end without a panic is the assertion, with the mock checking
    // that `remove` was asked.
    cached.forget(USER_ID).await;
}

#[tokio::test]
async fn cache_exposes_the_wrapped_cache() {
    let mut cache = MockUserCache::new();
    cache.expect_get().withf(|id| *id == UserId(99)).times(1).returning(|_| Ok(miss()));
    let cached = CachedUsers::new(untouched_repository(), cache);

    assert_eq!(cached.cache().get(UserId(99)).await.unwrap(), miss());
}
