use std::sync::Arc;

use chrono::{Duration, TimeZone};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use super::*;
use crate::test_fixtures::{TwoUsers, execute_sql, two_users};

/// How many requests race for one token in the concurrency tests.
const RACERS: usize = 20;

/// The clock of these tests: a fixed instant with no sub-microsecond part, so that it reads
/// back from PostgreSQL unchanged.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
}

/// `now()` moved by `offset`.
fn at(offset: Duration) -> DateTime<Utc> {
    now() + offset
}

/// A fresh database with a token store and two users.
type Fixture = TwoUsers<PgTokenStore>;

async fn fixture() -> Fixture {
    two_users(PgTokenStore::new).await
}

/// A row of `refresh_tokens`, minus its fingerprint and creation time.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
struct RefreshRow {
    id: i64,
    user_id: i64,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    replaced_by: Option<i64>,
}

/// A row of `password_reset_tokens`, minus its fingerprint and creation time.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
struct ResetRow {
    user_id: i64,
    expires_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

impl Fixture {
    async fn store_refresh(&self, user: UserId, fingerprint: &str, expires_at: DateTime<Utc>) {
        self.store.store_refresh(user, fingerprint, expires_at).await.expect("store a refresh token");
    }

    async fn store_reset(&self, user: UserId, fingerprint: &str, expires_at: DateTime<Utc>) {
        self.store.store_reset(user, fingerprint, expires_at).await.expect("store a reset token");
    }

    /// Rotates `old` into `new` (valid for a week) at `now()`.
    async fn rotate(&self, old: &str, new: &str) -> RefreshRotation {
        self.store.rotate_refresh(old, new, at(Duration::days(7)), now()).await.expect("rotate a refresh token")
    }

    /// The row of the refresh token with this fingerprint, read with diesel.
    async fn refresh_row(&self, fingerprint: &str) -> Option<RefreshRow> {
        let mut conn = self.db.conn().await.expect("a connection");
        refresh::table
            .filter(refresh::token_hash.eq(fingerprint))
            .select((refresh::id, refresh::user_id, refresh::expires_at, refresh::revoked_at, refresh::replaced_by))
            .first(&mut conn)
            .await
            .optional()
            .expect("read refresh_tokens")
    }

    /// The row of the refresh token with this fingerprint, which must exist.
    async fn live_row(&self, fingerprint: &str) -> RefreshRow {
        self.refresh_row(fingerprint).await.unwrap_or_else(|| panic!("no refresh token {fingerprint}"))
    }

    /// The row of the reset token with this fingerprint, read with diesel.
    async fn reset_row(&self, fingerprint: &str) -> Option<ResetRow> {
        let mut conn = self.db.conn().await.expect("a connection");
        resets::table
            .filter(resets::token_hash.eq(fingerprint))
            .select((resets::user_id, resets::expires_at, resets::used_at))
            .first(&mut conn)
            .await
            .optional()
            .expect("read password_reset_tokens")
    }

    /// Every refresh fingerprint, sorted bytewise (not by the database's collation).
    async fn refresh_fingerprints(&self) -> Vec<String> {
        let mut conn = self.db.conn().await.expect("a connection");
        let mut fingerprints: Vec<String> = refresh::table.select(refresh::token_hash).load(&mut conn).await.unwrap();
        fingerprints.sort();
        fingerprints
    }

    /// Every reset fingerprint, sorted bytewise (not by the database's collation).
    async fn reset_fingerprints(&self) -> Vec<String> {
        let mut conn = self.db.conn().await.expect("a connection");
        let mut fingerprints: Vec<String> = resets::table.select(resets::token_hash).load(&mut conn).await.unwrap();
        fingerprints.sort();
        fingerprints
    }

    /// A token store on its own pool of `RACERS` connections to the same database, all opened
    /// in advance, so that every racer gets a connection at once and the races overlap.
    async fn racing_store(&self) -> PgTokenStore {
        let db = Database::connect_lazy(self.test_db.url(), RACERS).expect("configure the pool");
        let mut opened = Vec::with_capacity(RACERS);
        for _ in 0..RACERS {
            opened.push(db.conn().await.expect("a racing connection"));
        }
        drop(opened);
        PgTokenStore::new(db)
    }
}

/// Asserts that `result` failed on the unique index `constraint`, without panicking in the
/// store.
fn assert_unique_violation<T: std::fmt::Debug>(result: Result<T, Error>, constraint: &str) {
    match &result {
        Err(Error::Unexpected(cause)) => match cause.downcast_ref::<DieselError>() {
            Some(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
                assert_eq!(info.constraint_name(), Some(constraint), "{}", info.message());
            }
            other => panic!("expected a unique violation of {constraint}, got {other:?}"),
        },
        other => panic!("expected an unexpected error from {constraint}, got {other:?}"),
    }
}

#[tokio::test]
async fn store_refresh_remembers_a_live_token_of_its_user() {
    let f = fixture().await;

    f.store_refresh(f.ada, "ada-1", at(Duration::days(1))).await;
    f.store_refresh(f.grace, "grace-1", at(Duration::days(2))).await;

    let ada = f.live_row("ada-1").await;
    assert_eq!(
        (ada.user_id, ada.expires_at, ada.revoked_at, ada.replaced_by),
        (f.ada.0, at(Duration::days(1)), None, None)
    );
    let grace = f.live_row("grace-1").await;
    assert_eq!((grace.user_id, grace.expires_at), (f.grace.0, at(Duration::days(2))));
    assert_ne!(ada.id, grace.id);
    assert_eq!(f.refresh_row("ada-2").await, None);
}

#[tokio::test]
async fn rotate_refresh_revokes_the_old_token_and_links_its_successor() {
    let f = fixture().await;
    f.store_refresh(f.ada, "old", at(Duration::days(1))).await;
    f.store_refresh(f.grace, "bystander", at(Duration::days(1))).await;
    let bystander = f.live_row("bystander").await;

    assert_eq!(f.rotate("old", "new").await, RefreshRotation::Rotated);

    let old = f.live_row("old").await;
    let new = f.live_row("new").await;
    assert_eq!(old.revoked_at, Some(now()), "revoked at the time given");
    assert_eq!(old.replaced_by, Some(new.id), "linked to its successor");
    assert_eq!(old.expires_at, at(Duration::days(1)), "expiry unchanged");
    assert_eq!(
        (new.user_id, new.expires_at, new.revoked_at, new.replaced_by),
        (f.ada.0, at(Duration::days(7)), None, None),
        "the successor is a live token of the same user"
    );
    assert_eq!(f.live_row("bystander").await, bystander, "other tokens untouched");

    let later = at(Duration::hours(1));
    let third = f.store.rotate_refresh("new", "newer", at(Duration::days(8)), later).await.unwrap();
    assert_eq!(third, RefreshRotation::Rotated, "the successor rotates in turn");
    let new = f.live_row("new").await;
    let newer = f.live_row("newer").await;
    assert_eq!((new.revoked_at, new.replaced_by), (Some(later), Some(newer.id)));
    assert_eq!((newer.user_id, newer.expires_at, newer.revoked_at), (f.ada.0, at(Duration::days(8)), None));
    assert_eq!(f.live_row("old").await, old, "the start of the chain is unchanged");
    assert_eq!(f.refresh_fingerprints().await, ["bystander", "new", "newer", "old"]);
}

#[tokio::test]
async fn rotating_a_rotated_token_again_is_reuse_and_stores_nothing() {
    let f = fixture().await;
    f.store_refresh(f.ada, "old", at(Duration::days(1))).await;
    assert_eq!(f.rotate("old", "new").await, RefreshRotation::Rotated);
    let old = f.live_row("old").await;
    let new = f.live_row("new").await;

    assert_eq!(f.rotate("old", "thief").await, RefreshRotation::Reused);

    assert_eq!(f.refresh_row("thief").await, None, "no successor for a replay");
    assert_eq!(f.live_row("old").await, old, "still linked to the first successor");
    assert_eq!(f.live_row("new").await, new, "the store leaves ending the session to the caller");
    let replay_later = f.store.rotate_refresh("old", "thief", at(Duration::days(7)), at(Duration::hours(1))).await;
    assert_eq!(replay_later.unwrap(), RefreshRotation::Reused);
    assert_eq!(f.live_row("old").await.revoked_at, Some(now()), "revoked_at keeps the first revocation");
    assert_eq!(f.refresh_fingerprints().await, ["new", "old"]);
}

#[tokio::test]
async fn rotating_an_unknown_token_is_unknown_and_stores_nothing() {
    let f = fixture().await;
    f.store_refresh(f.ada, "known", at(Duration::days(1))).await;
    let known = f.live_row("known").await;

    assert_eq!(f.rotate("never-issued", "new").await, RefreshRotation::Unknown);
    assert_eq!(f.rotate("KNOWN", "new").await, RefreshRotation::Unknown, "fingerprints match exactly");

    assert_eq!(f.refresh_row("new").await, None);
    assert_eq!(f.live_row("known").await, known);
    assert_eq!(f.refresh_fingerprints().await, ["known"]);
}

/// An expired token is `Unknown`, not `Reused`: running out of time is no sign of theft.
#[tokio::test]
async fn an_expired_refresh_token_is_not_rotated() {
    let f = fixture().await;
    f.store_refresh(f.ada, "expires-now", now()).await;
    f.store_refresh(f.ada, "expired", at(-Duration::seconds(1))).await;
    f.store_refresh(f.ada, "expires-next", at(Duration::microseconds(1))).await;

    assert_eq!(f.rotate("expires-now", "new-1").await, RefreshRotation::Unknown, "expires_at == now is expired");
    assert_eq!(f.rotate("expired", "new-2").await, RefreshRotation::Unknown);

    for (fingerprint, expires_at) in [("expires-now", now()), ("expired", at(-Duration::seconds(1)))] {
        let row = f.live_row(fingerprint).await;
        assert_eq!((row.expires_at, row.revoked_at, row.replaced_by), (expires_at, None, None), "{fingerprint}");
    }
    assert_eq!(f.refresh_row("new-1").await, None, "no successor");
    assert_eq!(f.refresh_row("new-2").await, None, "no successor");

    assert_eq!(f.rotate("expires-next", "new-3").await, RefreshRotation::Rotated, "live until expires_at");
    assert_eq!(f.refresh_fingerprints().await, ["expired", "expires-next", "expires-now", "new-3"]);
}

#[tokio::test]
async fn rotating_into_a_taken_fingerprint_fails_and_leaves_the_old_token_live() {
    let f = fixture().await;
    f.store_refresh(f.ada, "old", at(Duration::days(1))).await;
    f.store_refresh(f.grace, "taken", at(Duration::days(1))).await;
    let taken = f.live_row("taken").await;

    let result = f.store.rotate_refresh("old", "taken", at(Duration::days(7)), now()).await;

    assert_unique_violation(result, "refresh_tokens_token_hash_key");
    let old = f.live_row("old").await;
    assert_eq!((old.revoked_at, old.replaced_by), (None, None), "the revocation was rolled back");
    assert_eq!(f.live_row("taken").await, taken);
    assert_eq!(f.rotate("old", "fresh").await, RefreshRotation::Rotated, "the old token still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_one_of_twenty_concurrent_rotations_wins() {
    let f = fixture().await;
    f.store_refresh(f.ada, "old", at(Duration::days(1))).await;
    let store = f.racing_store().await;
    let barrier = Arc::new(Barrier::new(RACERS));

    let mut racers = JoinSet::new();
    for i in 0..RACERS {
        let (store, barrier) = (store.clone(), barrier.clone());
        racers.spawn(async move {
            let new = format!("new-{i:02}");
            barrier.wait().await;
            let outcome = store.rotate_refresh("old", &new, at(Duration::days(7)), now()).await;
            (new, outcome.expect("rotate a refresh token"))
        });
    }
    let outcomes = racers.join_all().await;

    let winners: Vec<&String> =
        outcomes.iter().filter(|(_, outcome)| *outcome == RefreshRotation::Rotated).map(|(new, _)| new).collect();
    let reused = outcomes.iter().filter(|(_, outcome)| *outcome == RefreshRotation::Reused).count();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert_eq!(reused, RACERS - 1, "{outcomes:?}");
    let winner = winners[0];
    assert_eq!(f.refresh_fingerprints().await, [winner.as_str(), "old"], "exactly one successor");
    let successor = f.live_row(winner).await;
    let old = f.live_row("old").await;
    assert_eq!((old.revoked_at, old.replaced_by), (Some(now()), Some(successor.id)));
    assert_eq!((successor.user_id, successor.revoked_at), (f.ada.0, None));
}

#[tokio::test]
async fn revoke_refresh_revokes_a_live_token_once() {
    let f = fixture().await;
    f.store_refresh(f.ada, "session", at(Duration::days(1))).await;
    f.store_refresh(f.ada, "other-session", at(Duration::days(1))).await;
    let other = f.live_row("other-session").await;

    assert_eq!(f.store.revoke_refresh("session", now()).await.unwrap(), RefreshRotation::Rotated);

    let revoked = f.live_row("session").await;
    assert_eq!((revoked.revoked_at, revoked.replaced_by), (Some(now()), None), "revoked without a successor");
    assert_eq!(f.live_row("other-session").await, other, "the user's other sessions stay");
    assert_eq!(f.refresh_fingerprints().await, ["other-session", "session"]);

    // Its session is over: presented again it is refused, but it was never rotated, so it is
    // no sign of theft (a retried logout must not end the user's other sessions).
    let again = f.store.revoke_refresh("session", at(Duration::hours(1))).await.unwrap();
    assert_eq!(again, RefreshRotation::Unknown);
    assert_eq!(f.live_row("session").await, revoked, "revoked_at keeps the first revocation");
    assert_eq!(f.rotate("session", "new").await, RefreshRotation::Unknown, "a revoked token does not rotate");
    assert_eq!(f.refresh_row("new").await, None);

    assert_eq!(f.store.revoke_refresh("never-issued", now()).await.unwrap(), RefreshRotation::Unknown);
    assert_eq!(f.rotate("other-session", "new").await, RefreshRotation::Rotated);
}

#[tokio::test]
async fn revoking_an_expired_refresh_token_is_unknown_and_changes_nothing() {
    let f = fixture().await;
    f.store_refresh(f.ada, "expires-now", now()).await;

    assert_eq!(f.store.revoke_refresh("expires-now", now()).await.unwrap(), RefreshRotation::Unknown);

    assert_eq!(f.live_row("expires-now").await.revoked_at, None);
}

#[tokio::test]
async fn revoke_all_refresh_revokes_only_that_users_live_tokens() {
    let f = fixture().await;
    f.store_refresh(f.ada, "ada-revoked", at(Duration::days(1))).await;
    let earlier = at(-Duration::hours(1));
    assert_eq!(f.store.revoke_refresh("ada-revoked", earlier).await.unwrap(), RefreshRotation::Rotated);
    f.store_refresh(f.ada, "ada-1", at(Duration::days(1))).await;
    f.store_refresh(f.ada, "ada-2", at(Duration::days(2))).await;
    f.store_refresh(f.grace, "grace-1", at(Duration::days(1))).await;
    let grace_before = f.live_row("grace-1").await;

    f.store.revoke_all_refresh(f.ada).await.unwrap();

    for fingerprint in ["ada-1", "ada-2"] {
        assert!(f.live_row(fingerprint).await.revoked_at.is_some(), "{fingerprint} revoked");
        let next = format!("{fingerprint}-next");
        assert_eq!(f.rotate(fingerprint, &next).await, RefreshRotation::Unknown, "refused, no theft");
    }
    assert_eq!(f.live_row("ada-revoked").await.revoked_at, Some(earlier), "an earlier revocation is kept");
    assert_eq!(f.live_row("grace-1").await, grace_before, "another user's token is untouched");
    assert_eq!(f.rotate("grace-1", "grace-2").await, RefreshRotation::Rotated, "and still rotates");
    assert_eq!(f.refresh_fingerprints().await, ["ada-1", "ada-2", "ada-revoked", "grace-1", "grace-2"]);

    f.store.revoke_all_refresh(UserId(-1)).await.expect("a user without tokens is no error");
}

#[tokio::test]
async fn a_reset_token_is_consumed_once() {
    let f = fixture().await;
    f.store_reset(f.ada, "ada-reset", at(Duration::hours(1))).await;
    f.store_reset(f.grace, "grace-reset", at(Duration::hours(1))).await;
    assert_eq!(
        f.reset_row("ada-reset").await,
        Some(ResetRow { user_id: f.ada.0, expires_at: at(Duration::hours(1)), used_at: None })
    );

    assert_eq!(f.store.consume_reset("ada-reset", now()).await.unwrap(), Some(f.ada));

    assert_eq!(f.reset_row("ada-reset").await.and_then(|row| row.used_at), Some(now()), "marked used");
    assert_eq!(f.reset_row("grace-reset").await.and_then(|row| row.used_at), None, "others untouched");
    let again = f.store.consume_reset("ada-reset", at(Duration::minutes(1))).await.unwrap();
    assert_eq!(again, None, "a reset token works once");
    assert_eq!(f.reset_row("ada-reset").await.and_then(|row| row.used_at), Some(now()), "first use kept");

    assert_eq!(f.store.consume_reset("grace-reset", now()).await.unwrap(), Some(f.grace), "its own user");
    assert_eq!(f.store.consume_reset("never-issued", now()).await.unwrap(), None);
    assert_eq!(f.reset_fingerprints().await, ["ada-reset", "grace-reset"], "consumed tokens are kept");
}

#[tokio::test]
async fn consuming_a_reset_token_ends_every_other_unused_one_of_its_user() {
    let f = fixture().await;
    f.store_reset(f.ada, "older", at(Duration::hours(1))).await;
    f.store_reset(f.ada, "newer", at(Duration::hours(2))).await;
    f.store_reset(f.grace, "grace-reset", at(Duration::hours(1))).await;

    assert_eq!(f.store.consume_reset("newer", now()).await.unwrap(), Some(f.ada));

    assert_eq!(f.reset_row("older").await.and_then(|row| row.used_at), Some(now()), "ended with it");
    assert_eq!(f.store.consume_reset("older", at(Duration::minutes(1))).await.unwrap(), None);
    assert_eq!(f.reset_row("grace-reset").await.and_then(|row| row.used_at), None, "another user's untouched");
    assert_eq!(f.store.consume_reset("grace-reset", now()).await.unwrap(), Some(f.grace));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_two_reset_tokens_of_one_user_consumed_at_once_exactly_one_wins() {
    for round in 0..5 {
        let f = fixture().await;
        f.store_reset(f.ada, "first", at(Duration::hours(1))).await;
        f.store_reset(f.ada, "second", at(Duration::hours(1))).await;
        let store = f.racing_store().await;
        let barrier = Arc::new(Barrier::new(2));
        let mut racers = JoinSet::new();
        for token in ["first", "second"] {
            let (store, barrier) = (store.clone(), barrier.clone());
            racers.spawn(async move {
                barrier.wait().await;
                store.consume_reset(token, now()).await.expect("consume without a deadlock")
            });
        }
        let outcomes = racers.join_all().await;
        assert_eq!(outcomes.iter().flatten().count(), 1, "round {round}: {outcomes:?}");
    }
}

#[tokio::test]
async fn an_expired_reset_token_is_not_consumed() {
    let f = fixture().await;
    f.store_reset(f.ada, "expires-now", now()).await;
    f.store_reset(f.ada, "expired", at(-Duration::seconds(1))).await;
    f.store_reset(f.ada, "expires-next", at(Duration::microseconds(1))).await;

    assert_eq!(f.store.consume_reset("expires-now", now()).await.unwrap(), None, "expires_at == now is expired");
    assert_eq!(f.store.consume_reset("expired", now()).await.unwrap(), None);

    assert_eq!(f.reset_row("expires-now").await.and_then(|row| row.used_at), None, "not marked used");
    assert_eq!(f.reset_row("expired").await.and_then(|row| row.used_at), None, "not marked used");
    assert_eq!(f.store.consume_reset("expires-next", now()).await.unwrap(), Some(f.ada), "live until expires_at");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_one_of_twenty_concurrent_consumes_wins() {
    let f = fixture().await;
    f.store_reset(f.ada, "reset", at(Duration::hours(1))).await;
    let store = f.racing_store().await;
    let barrier = Arc::new(Barrier::new(RACERS));

    let mut racers = JoinSet::new();
    for _ in 0..RACERS {
        let (store, barrier) = (store.clone(), barrier.clone());
        racers.spawn(async move {
            barrier.wait().await;
            store.consume_reset("reset", now()).await.expect("consume a reset token")
        });
    }
    let outcomes = racers.join_all().await;

    let winners: Vec<_> = outcomes.iter().flatten().collect();
    assert_eq!(winners, [&f.ada], "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|outcome| outcome.is_none()).count(), RACERS - 1);
    assert_eq!(f.reset_row("reset").await.and_then(|row| row.used_at), Some(now()));
}

#[tokio::test]
async fn purge_expired_deletes_expired_tokens_only_and_counts_them() {
    let f = fixture().await;
    // Refresh tokens: four expired (one exactly now), three live.
    f.store_refresh(f.ada, "r-expired", at(-Duration::days(1))).await;
    f.store_refresh(f.grace, "r-expires-now", now()).await;
    f.store_refresh(f.ada, "r-live", at(Duration::microseconds(1))).await;
    f.store_refresh(f.ada, "r-revoked-live", at(Duration::days(1))).await;
    f.store.revoke_refresh("r-revoked-live", at(-Duration::hours(1))).await.unwrap();
    // An expired token rotated into a live one, and a live one rotated into an expired one.
    let two_hours_ago = at(-Duration::hours(2));
    f.store_refresh(f.ada, "r-chain-old", at(-Duration::hours(1))).await;
    let rotation = f.store.rotate_refresh("r-chain-old", "r-chain-new", at(Duration::days(1)), two_hours_ago).await;
    assert_eq!(rotation.unwrap(), RefreshRotation::Rotated);
    f.store_refresh(f.grace, "r-pred", at(Duration::days(1))).await;
    let rotation = f.store.rotate_refresh("r-pred", "r-succ", at(-Duration::hours(1)), two_hours_ago).await;
    assert_eq!(rotation.unwrap(), RefreshRotation::Rotated);
    // Reset tokens: two expired (one exactly now), two live (one of them used).
    f.store_reset(f.ada, "p-expired", at(-Duration::days(1))).await;
    f.store_reset(f.grace, "p-expires-now", now()).await;
    f.store_reset(f.ada, "p-live", at(Duration::hours(1))).await;
    f.store_reset(f.grace, "p-used-live", at(Duration::hours(1))).await;
    assert_eq!(f.store.consume_reset("p-used-live", at(-Duration::minutes(1))).await.unwrap(), Some(f.grace));
    let chain_new = f.live_row("r-chain-new").await;

    let purged = f.store.purge_expired(now()).await.unwrap();

    assert_eq!(purged, 6, "4 refresh + 2 reset tokens");
    assert_eq!(f.refresh_fingerprints().await, ["r-chain-new", "r-live", "r-pred", "r-revoked-live"]);
    assert_eq!(f.reset_fingerprints().await, ["p-live", "p-used-live"]);
    assert_eq!(f.live_row("r-chain-new").await, chain_new, "a live successor outlives its predecessor");
    let pred = f.live_row("r-pred").await;
    assert_eq!((pred.revoked_at, pred.replaced_by), (Some(two_hours_ago), None), "its purged successor is unlinked");
    assert_eq!(f.rotate("r-live", "r-live-next").await, RefreshRotation::Rotated, "live tokens still work");
    assert_eq!(f.store.consume_reset("p-live", now()).await.unwrap(), Some(f.ada));

    assert_eq!(f.store.purge_expired(now()).await.unwrap(), 0, "nothing left to purge");
}

#[tokio::test]
async fn storing_a_fingerprint_twice_is_an_error() {
    let f = fixture().await;
    f.store_refresh(f.ada, "refresh", at(Duration::days(1))).await;
    f.store_reset(f.ada, "reset", at(Duration::hours(1))).await;
    let refresh_before = f.live_row("refresh").await;
    let reset_before = f.reset_row("reset").await;

    let same_user = f.store.store_refresh(f.ada, "refresh", at(Duration::days(2))).await;
    let other_user = f.store.store_refresh(f.grace, "refresh", at(Duration::days(2))).await;
    let reset_again = f.store.store_reset(f.grace, "reset", at(Duration::hours(2))).await;

    assert_unique_violation(same_user, "refresh_tokens_token_hash_key");
    assert_unique_violation(other_user, "refresh_tokens_token_hash_key");
    assert_unique_violation(reset_again, "password_reset_tokens_token_hash_key");
    assert_eq!(f.live_row("refresh").await, refresh_before, "the first token is unchanged");
    assert_eq!(f.reset_row("reset").await, reset_before, "the first token is unchanged");
    assert_eq!(f.refresh_fingerprints().await, ["refresh"]);
    assert_eq!(f.reset_fingerprints().await, ["reset"]);
    // One fingerprint may be both a refresh and a reset token: the tables are separate.
    f.store_reset(f.ada, "refresh", at(Duration::hours(1))).await;
}

#[tokio::test]
async fn deleting_a_user_deletes_their_tokens() {
    let f = fixture().await;
    f.store_refresh(f.ada, "ada-old", at(Duration::days(1))).await;
    assert_eq!(f.rotate("ada-old", "ada-new").await, RefreshRotation::Rotated);
    f.store_refresh(f.ada, "ada-other", at(Duration::days(1))).await;
    f.store_reset(f.ada, "ada-reset", at(Duration::hours(1))).await;
    f.store_refresh(f.grace, "grace-refresh", at(Duration::days(1))).await;
    f.store_reset(f.grace, "grace-reset", at(Duration::hours(1))).await;

    let deleted = execute_sql(&f.db, &format!("DELETE FROM users WHERE id = {}", f.ada)).await.unwrap();

    assert_eq!(deleted, 1);
    assert_eq!(f.refresh_fingerprints().await, ["grace-refresh"]);
    assert_eq!(f.reset_fingerprints().await, ["grace-reset"]);
    assert_eq!(f.rotate("ada-new", "ada-newer").await, RefreshRotation::Unknown);
    assert_eq!(f.store.consume_reset("ada-reset", now()).await.unwrap(), None);
    assert_eq!(f.rotate("grace-refresh", "grace-next").await, RefreshRotation::Rotated);
    assert_eq!(f.store.consume_reset("grace-reset", now()).await.unwrap(), Some(f.grace));
}
