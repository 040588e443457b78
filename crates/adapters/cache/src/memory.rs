//! [`MemoryCache`]: the cache and limiter ports in this process, for a single instance
//! without Redis.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contacts_domain::Error;
use contacts_domain::throttle::FailureCounter;
use contacts_domain::user::{CacheMark, Lookup, RateLimiter, User, UserCache, UserId};

use crate::record::UserRecord;

#[derive(Debug, Default)]
struct State {
    users: HashMap<i64, (String, Instant)>,
    /// Counters by key and window start; old windows are dropped as new ones begin.
    hits: HashMap<String, (i64, u64)>,
    /// Login failures by key: when each runs out, in the order they were added.
    failures: HashMap<String, Vec<Instant>>,
    /// When run-out failures were last swept from every key (at most once a second: a sweep
    /// reads every failure kept, which a login must not pay each time while many are).
    swept: Option<Instant>,
    /// Marks written by removals so far, so each is new.
    forgotten: u64,
    /// How many times every copy was dropped at once.
    generation: u64,
}

impl State {
    /// What user `id`'s entry holds now (a record or a forgotten mark), unless expired.
    fn held(&self, id: UserId) -> Option<String> {
        self.users.get(&id.0).filter(|(_, expires)| *expires > Instant::now()).map(|(raw, _)| raw.clone())
    }
}

/// An in-process cache with the same behaviour as the Redis one (entries expire after the
/// configured lifetime), shared by the process's workers.
#[derive(Debug, Clone)]
pub struct MemoryCache {
    state: Arc<Mutex<State>>,
    ttl: Duration,
}

impl MemoryCache {
    /// A cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self { state: Arc::default(), ttl }
    }

    /// Drops the copy of user `id`, changed by another process (the server hears of it from
    /// PostgreSQL, since no shared cache tells it), leaving a mark no copy read before now can
    /// be put over.
    pub fn forget_user(&self, id: UserId) {
        let mut state = self.state();
        state.forgotten += 1;
        let mark = format!("forgotten:{}", state.forgotten);
        state.users.insert(id.0, (mark, Instant::now() + self.ttl));
    }

    /// Drops every user's copy: changes may have been made that nobody heard of. Copies read
    /// before now are not put back either (the marks of misses name the generation).
    pub fn forget_users(&self) {
        let mut state = self.state();
        state.users.clear();
        state.generation += 1;
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl UserCache for MemoryCache {
    async fn get(&self, id: UserId) -> Result<Lookup, Error> {
        let mut state = self.state();
        let now = Instant::now();
        let held = match state.users.get(&id.0) {
            Some((raw, expires)) if *expires > now => {
                // A hit decodes the record in place: no copy of it on every request.
                if let Some(user) = UserRecord::decode(raw) {
                    return Ok(Lookup::Hit(user));
                }
                raw.clone()
            }
            Some(_) => {
                state.users.remove(&id.0);
                String::new()
            }
            None => String::new(),
        };
        Ok(Lookup::Miss(CacheMark(Some(format!("{}|{held}", state.generation)))))
    }

    /// Only while the entry is as the miss saw it (see the Redis cache).
    async fn put(&self, user: &User, seen: CacheMark) -> Result<(), Error> {
        let mut state = self.state();
        let now = format!("{}|{}", state.generation, state.held(user.id).unwrap_or_default());
        if seen.0.as_deref() == Some(now.as_str()) {
            state.users.insert(user.id.0, (UserRecord::encode(user), Instant::now() + self.ttl));
        }
        Ok(())
    }

    async fn remove(&self, id: UserId) -> Result<(), Error> {
        self.forget_user(id);
        Ok(())
    }
}

impl RateLimiter for MemoryCache {
    async fn hit(&self, key: &str, window_start: i64, _window_seconds: u64) -> Result<u64, Error> {
        let mut state = self.state();
        let counter = state.hits.entry(key.to_owned()).or_insert((window_start, 0));
        if counter.0 != window_start {
            *counter = (window_start, 0);
        }
        counter.1 += 1;
        Ok(counter.1)
    }
}

/// How often run-out login failures are swept from every key (each key's own are dropped
/// whenever it counts one).
const SWEEP_EVERY: Duration = Duration::from_secs(1);

/// The failures of a key that have not run out at `now`, and the whole seconds until the
/// earliest of them does (`0, 0` for none).
fn live(ends: &[Instant], now: Instant) -> (u64, u64) {
    let live = ends.iter().filter(|end| **end > now);
    let first = live.clone().min().map_or(0, |end| (*end - now).as_secs_f64().ceil() as u64);
    (live.count() as u64, first)
}

impl FailureCounter for MemoryCache {
    async fn add_failure(&self, keys: &[String], window_seconds: u64) -> Result<Vec<(u64, u64)>, Error> {
        let now = Instant::now();
        let mut state = self.state();
        if state.swept.is_none_or(|at| now.duration_since(at) >= SWEEP_EVERY) {
            state.failures.retain(|_, ends| {
                ends.retain(|end| *end > now);
                !ends.is_empty()
            });
            state.swept = Some(now);
        }
        Ok(keys
            .iter()
            .map(|key| {
                let ends = state.failures.entry(key.clone()).or_default();
                ends.retain(|end| *end > now);
                ends.push(now + Duration::from_secs(window_seconds));
                live(ends, now)
            })
            .collect())
    }

    async fn take_back(&self, keys: &[String]) -> Result<(), Error> {
        let mut state = self.state();
        for key in keys {
            if let Some(ends) = state.failures.get_mut(key) {
                ends.pop();
                if ends.is_empty() {
                    state.failures.remove(key);
                }
            }
        }
        Ok(())
    }

    async fn counts(&self, keys: &[String]) -> Result<Vec<(u64, u64)>, Error> {
        let now = Instant::now();
        let state = self.state();
        Ok(keys.iter().map(|key| state.failures.get(key).map_or((0, 0), |ends| live(ends, now))).collect())
    }

    async fn clear(&self, key: &str) -> Result<(), Error> {
        self.state().failures.remove(key);
        Ok(())
    }

    async fn pause(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Copies;
    use contacts_domain::EmailAddress;
    use contacts_domain::user::Role;

    fn user(id: i64) -> User {
        User {
            id: UserId(id),
            username: "ada".into(),
            email: EmailAddress::from_trusted("ada@example.org".into()),
            avatar: None,
            role: Role::Admin,
            confirmed: true,
            created_at: chrono::Utc::now(),
            token_version: 2,
            ended_sessions: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_user_changed_elsewhere_is_forgotten_alone_or_with_everyone() {
        let cache = MemoryCache::new(Duration::from_secs(60));
        let users: Vec<User> = (1..=3).map(user).collect();
        for stored in &users {
            cache.store(stored).await.unwrap();
        }
        cache.forget_user(UserId(2));
        assert_eq!(cache.copy(UserId(2)).await.unwrap(), None);
        assert_eq!(cache.copy(UserId(1)).await.unwrap().as_ref(), Some(&users[0]), "the others stay");
        cache.forget_users();
        assert_eq!((cache.copy(UserId(1)).await.unwrap(), cache.copy(UserId(3)).await.unwrap()), (None, None));
    }

    #[tokio::test]
    async fn users_round_trip_and_expire() {
        let cache = MemoryCache::new(Duration::from_millis(50));
        let stored = user(1);
        cache.store(&stored).await.unwrap();
        assert_eq!(cache.copy(UserId(1)).await.unwrap(), Some(stored));
        assert_eq!(cache.copy(UserId(2)).await.unwrap(), None);
        cache.remove(UserId(1)).await.unwrap();
        assert_eq!(cache.copy(UserId(1)).await.unwrap(), None);
        // A copy a request read before that change, put after it, is refused.
        let Lookup::Miss(seen) = cache.get(UserId(5)).await.unwrap() else { panic!("a miss") };
        cache.forget_user(UserId(5));
        cache.put(&user(5), seen).await.unwrap();
        assert_eq!(cache.copy(UserId(5)).await.unwrap(), None);
        let Lookup::Miss(seen) = cache.get(UserId(5)).await.unwrap() else { panic!("a miss") };
        cache.forget_users();
        cache.put(&user(5), seen).await.unwrap();
        assert_eq!(cache.copy(UserId(5)).await.unwrap(), None, "nor after every copy was dropped");
        let fresh = user(5);
        cache.store(&fresh).await.unwrap();
        assert_eq!(cache.copy(UserId(5)).await.unwrap(), Some(fresh), "a copy read after is kept");
        cache.store(&user(3)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(cache.copy(UserId(3)).await.unwrap(), None, "expired");
    }

    #[tokio::test]
    async fn hits_count_per_key_and_restart_with_each_window() {
        let cache = MemoryCache::new(Duration::from_secs(60));
        assert_eq!(cache.hit("me:1", 60, 60).await.unwrap(), 1);
        assert_eq!(cache.hit("me:1", 60, 60).await.unwrap(), 2);
        assert_eq!(cache.hit("me:2", 60, 60).await.unwrap(), 1);
        assert_eq!(cache.hit("me:1", 120, 60).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn login_failures_count_until_taken_back_cleared_or_their_window_ends() {
        use contacts_domain::throttle::FailureCounter;
        let cache = MemoryCache::new(Duration::from_secs(60));
        let keys = vec!["pair".to_owned(), "ip".to_owned()];
        assert_eq!(cache.add_failure(&keys, 900).await.unwrap(), vec![(1, 900), (1, 900)]);
        let counts = cache.add_failure(&keys[1..], 1).await.unwrap();
        assert_eq!(counts[0], (2, 1), "until the earliest failure runs out: {counts:?}");
        cache.take_back(&keys[1..]).await.unwrap();
        cache.clear("pair").await.unwrap();
        assert_eq!(cache.add_failure(&keys, 60).await.unwrap()[0], (1, 60), "cleared: a new window");
        assert_eq!(cache.add_failure(&keys, 60).await.unwrap()[1].0, 3, "one of two taken back");

        cache.add_failure(&["once".to_owned()], 900).await.unwrap();
        cache.take_back(&["once".to_owned(), "never".to_owned()]).await.unwrap();
        assert_eq!(cache.add_failure(&["once".to_owned()], 5).await.unwrap(), vec![(1, 5)], "none left: forgotten");
        assert_eq!(cache.add_failure(&["never".to_owned()], 5).await.unwrap(), vec![(1, 5)], "not made by a take-back");

        cache.add_failure(&["short".to_owned()], 1).await.unwrap();
        assert_eq!(cache.counts(&["short".to_owned(), "none".to_owned()]).await.unwrap(), vec![(1, 1), (0, 0)]);
        assert_eq!(cache.counts(&["short".to_owned()]).await.unwrap(), vec![(1, 1)], "reading counts nothing");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(cache.counts(&["short".to_owned()]).await.unwrap(), vec![(0, 0)], "its window ended");
        assert_eq!(cache.add_failure(&["short".to_owned()], 1).await.unwrap(), vec![(1, 1)]);
    }

    #[tokio::test]
    async fn each_failure_counts_for_its_own_window() {
        use contacts_domain::throttle::FailureCounter;
        let cache = MemoryCache::new(Duration::from_secs(60));
        let key = ["pair".to_owned()];
        cache.add_failure(&key, 1).await.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(cache.add_failure(&key, 1).await.unwrap()[0].0, 2);
        tokio::time::sleep(Duration::from_millis(500)).await;
        // The first has run out, the second has not: a window begun at the first failure
        // would have started again at 1 and let a burst through at its edge.
        assert_eq!(cache.add_failure(&key, 1).await.unwrap()[0].0, 2);
    }
}
