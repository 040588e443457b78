//! [`RedisCache`]: the cache and limiter ports on Redis, through a deadpool-redis pool.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, AsyncCommands};
use deadpool_redis::{Config, Connection, Pool, PoolConfig, Runtime, Timeouts};

use contacts_domain::Error;
use contacts_domain::throttle::FailureCounter;
use contacts_domain::user::{CacheMark, Lookup, RateLimiter, User, UserCache, UserId};

use crate::MemoryCache;
use crate::record::{FORMAT, UserRecord};

/// Every Redis call, connecting included, gives up after this long: a slow or absent Redis
/// delays a request by at most this much.
const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// After a call fails the cache steps aside this long: the user cache answers "not cached" and
/// stores nothing, and the other calls fail at once, instead of each request waiting out
/// [`CALL_TIMEOUT`] on a Redis that is down or hung. The first call after it tries again (the
/// readiness probe's `PING` always does).
const STEP_ASIDE: Duration = Duration::from_secs(2);

/// The Redis URL cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("REDIS_URL is invalid")]
pub struct RedisSettingsError(#[source] deadpool_redis::CreatePoolError);

/// A Redis-backed cache. Keys carry a prefix (`contacts:`) and the record format version, so
/// the service can share a Redis with others and change formats safely.
///
/// Every call goes over one shared multiplexed connection, which pipelines concurrent commands
/// on one socket: a command is one round trip, where a pool checkout would add a `PING` to
/// verify the connection first. The deadpool pool only opens connections (with its timeouts);
/// after any failure the shared one is dropped and the next call opens another, so the cache
/// comes back by itself when Redis does.
#[derive(Clone)]
pub struct RedisCache {
    pool: Pool,
    shared: Arc<Mutex<Option<MultiplexedConnection>>>,
    ttl_seconds: u64,
    health: Arc<Mutex<Health>>,
    /// Where login failures are counted while Redis cannot be reached: in this process, as
    /// without `REDIS_URL`, so an outage of the shared counter does not leave password
    /// guessing unthrottled (each instance then counts its own).
    local_failures: MemoryCache,
    /// The users this instance read from or stored in the cache, and when it last did: the
    /// copies it must drop when it may have missed notices of changes ([`forget_served`]).
    ///
    /// [`forget_served`]: RedisCache::forget_served
    served: Arc<Mutex<HashMap<i64, Instant>>>,
}

/// Served users noted between two sweeps of those whose copies have run out.
const SWEEP_SERVED_EVERY: usize = 4_096;

/// How the last calls went.
#[derive(Debug, Default)]
struct Health {
    /// Until when the cache steps aside, after a failed call.
    aside_until: Option<Instant>,
    /// Users whose copy could not be dropped when they changed: their copy may be stale. It is
    /// never served, and is dropped as soon as Redis answers again.
    unremoved: HashSet<i64>,
}

impl std::fmt::Debug for RedisCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCache").field("ttl_seconds", &self.ttl_seconds).finish_non_exhaustive()
    }
}

fn user_key(id: UserId) -> String {
    format!("contacts:v{FORMAT}:user:{}", id.0)
}

fn unavailable(error: impl std::fmt::Display) -> Error {
    Error::Unavailable(format!("redis: {error}").into())
}

impl RedisCache {
    /// A pool for `url`; users live `ttl_seconds`. No connection is made until one is needed,
    /// so this succeeds while Redis is down, and the pool reconnects when it comes back.
    pub fn new(url: &str, ttl_seconds: u64) -> Result<Self, RedisSettingsError> {
        let mut config = Config::from_url(url);
        let mut pool = PoolConfig::new(16);
        pool.timeouts = Timeouts { wait: Some(CALL_TIMEOUT), create: Some(CALL_TIMEOUT), recycle: Some(CALL_TIMEOUT) };
        config.pool = Some(pool);
        let pool = config.create_pool(Some(Runtime::Tokio1)).map_err(RedisSettingsError)?;
        let local_failures = MemoryCache::new(Duration::from_secs(ttl_seconds));
        Ok(Self {
            pool,
            shared: Arc::default(),
            ttl_seconds,
            health: Arc::default(),
            local_failures,
            served: Arc::default(),
        })
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the cache steps aside now (a call failed less than two seconds ago): lookups
    /// are answered as misses without asking Redis.
    pub fn is_stepped_aside(&self) -> bool {
        self.stepped_aside()
    }

    /// Whether a call failed less than [`STEP_ASIDE`] ago.
    fn stepped_aside(&self) -> bool {
        self.health().aside_until.is_some_and(|until| Instant::now() < until)
    }

    /// Notes how a call went: a failure starts a step aside (said once in the log), a success
    /// ends one.
    fn note(&self, ok: bool) {
        let mut health = self.health();
        if ok {
            if health.aside_until.take().is_some() {
                tracing::info!("Redis answers again; the cache is back");
            }
        } else {
            if health.aside_until.is_none_or(|until| Instant::now() >= until) {
                tracing::warn!(seconds = STEP_ASIDE.as_secs(), "Redis did not answer; the cache steps aside");
            }
            health.aside_until = Some(Instant::now() + STEP_ASIDE);
        }
    }

    /// Drops the copies of users whose change could not drop them; `false` when Redis did not
    /// answer (they stay listed).
    async fn drop_unremoved(&self) -> bool {
        let keys: Vec<String> = self.health().unremoved.iter().map(|&id| user_key(UserId(id))).collect();
        if keys.is_empty() {
            return true;
        }
        let dropped = self.run(|mut conn| async move { conn.del::<_, ()>(&keys).await }).await.is_ok();
        if dropped {
            self.health().unremoved.clear();
        }
        dropped
    }

    /// The shared connection, opened first if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, Error> {
        if let Some(conn) = self.shared.lock().expect("never poisoned").clone() {
            return Ok(conn);
        }
        // Taken out of the pool for good: it is shared from now on, not returned after a call.
        let conn = Connection::take(self.pool.get().await.map_err(unavailable)?);
        *self.shared.lock().expect("never poisoned") = Some(conn.clone());
        Ok(conn)
    }

    /// Runs one command on the shared connection, within [`CALL_TIMEOUT`] overall; on failure
    /// the connection is dropped, so a dead or hung one is never used twice.
    /// While the cache steps aside, fails at once.
    async fn run<T, F, Fut>(&self, command: F) -> Result<T, Error>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        if self.stepped_aside() {
            return Err(unavailable("stepped aside after a failed call"));
        }
        self.call(command).await
    }

    /// [`RedisCache::run`] even while stepping aside.
    async fn call<T, F, Fut>(&self, command: F) -> Result<T, Error>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let call = async { command(self.connection().await?).await.map_err(unavailable) };
        let result = tokio::time::timeout(CALL_TIMEOUT, call).await.unwrap_or_else(|_| Err(unavailable("timed out")));
        if result.is_err() {
            self.shared.lock().expect("never poisoned").take();
        }
        self.note(result.is_ok());
        result
    }

    /// Notes that this instance served `id` from the cache (or stored it there).
    fn note_served(&self, id: UserId) {
        let mut served = self.served.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        served.insert(id.0, Instant::now());
        if served.len().is_multiple_of(SWEEP_SERVED_EVERY) {
            let lifetime = Duration::from_secs(self.ttl_seconds);
            served.retain(|_, at| at.elapsed() < lifetime);
        }
    }

    /// Drops the copies of every user this instance read or stored within the copies'
    /// lifetime, as [`remove`](UserCache::remove) drops one: what an instance whose listener
    /// of user changes lost its connection (and with it any notice sent meanwhile) must assume
    /// changed. Other instances' users are theirs to drop, each listening on its own
    /// connection; the rest of Redis is left alone. Copies that cannot be dropped now are
    /// never served, and dropped once Redis answers. Returns how many were dropped.
    pub async fn forget_served(&self) -> Result<usize, Error> {
        let ids: Vec<i64> = {
            let mut served = self.served.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let lifetime = Duration::from_secs(self.ttl_seconds);
            served.retain(|_, at| at.elapsed() < lifetime);
            served.keys().copied().collect()
        };
        if ids.is_empty() {
            return Ok(0);
        }
        let keys: Vec<String> = ids.iter().map(|&id| user_key(UserId(id))).collect();
        let (mark, ttl) = (forgotten_mark(), self.ttl_seconds);
        let forgotten = self
            .run(|mut conn| async move {
                let mut pipe = redis::pipe();
                for key in &keys {
                    pipe.set_ex(key, &mark, ttl).ignore();
                }
                pipe.query_async::<()>(&mut conn).await
            })
            .await;
        if forgotten.is_err() {
            self.health().unremoved.extend(&ids);
        }
        forgotten.map(|()| ids.len())
    }

    /// Whether Redis answers `PING` within the timeout; asked even while the cache steps aside,
    /// so the readiness probe tells the truth and a Redis that is back is used again at once.
    pub async fn ping(&self) -> bool {
        self.call(|mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await }).await.is_ok()
    }
}

impl UserCache for RedisCache {
    /// Not cached while the cache steps aside, or while a copy of this user may be stale.
    async fn get(&self, id: UserId) -> Result<Lookup, Error> {
        if self.stepped_aside() || !self.drop_unremoved().await {
            // A miss whose copy is never stored: what the key holds is unknown, and a change
            // whose removal failed may be newer than the copy this request is about to read.
            return Ok(Lookup::Miss(CacheMark(Some(UNKNOWN.to_owned()))));
        }
        let raw: Option<String> = self.run(|mut conn| async move { conn.get(user_key(id)).await }).await?;
        match raw.as_deref().and_then(UserRecord::decode) {
            Some(user) => {
                self.note_served(id);
                Ok(Lookup::Hit(user))
            }
            // A forgotten mark, a record of another format, or nothing.
            None => Ok(Lookup::Miss(CacheMark(raw))),
        }
    }

    /// Stores the copy only while the key still holds what the miss saw (one script, so a
    /// [`remove`](UserCache::remove) cannot slip between the check and the write).
    async fn put(&self, user: &User, seen: CacheMark) -> Result<(), Error> {
        if self.stepped_aside() || !self.drop_unremoved().await {
            return Ok(());
        }
        self.note_served(user.id);
        let (key, value, ttl) = (user_key(user.id), UserRecord::encode(user), self.ttl_seconds);
        let (was_empty, was) = match seen.0 {
            None => ("1", String::new()),
            Some(was) => ("0", was),
        };
        self.run(|mut conn| async move {
            redis::cmd("EVAL")
                .arg(PUT_IF_UNCHANGED)
                .arg(1)
                .arg(key)
                .arg(was_empty)
                .arg(was)
                .arg(value)
                .arg(ttl)
                .query_async::<()>(&mut conn)
                .await
        })
        .await
    }

    /// Replaces the copy with a forgotten mark of its own for the copies' lifetime, so a copy
    /// read before this change is not put back. A copy that cannot be dropped now is
    /// remembered, never served, and dropped once Redis answers again.
    async fn remove(&self, id: UserId) -> Result<(), Error> {
        let (mark, ttl) = (forgotten_mark(), self.ttl_seconds);
        let removed = self.run(|mut conn| async move { conn.set_ex(user_key(id), mark, ttl).await }).await;
        if removed.is_err() {
            self.health().unremoved.insert(id.0);
        }
        removed
    }
}

/// Sets `KEYS[1]` to `ARGV[3]` for `ARGV[4]` seconds if it still holds what a miss saw: nothing
/// (`ARGV[1]` = 1) or the value `ARGV[2]`.
const PUT_IF_UNCHANGED: &str = "local now = redis.call('GET', KEYS[1]) \
if (ARGV[1] == '1' and not now) or (ARGV[1] == '0' and now == ARGV[2]) then \
    redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4]) \
end";

/// The mark of a miss Redis was not asked about: no key ever holds it, so its copy is not put.
const UNKNOWN: &str = "\u{0}unknown";

/// A mark no other removal (of any instance) writes: a copy put with an older mark is refused.
fn forgotten_mark() -> String {
    static COUNT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let count = COUNT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("forgotten:{nanos}:{}:{count}", std::process::id())
}

impl RateLimiter for RedisCache {
    async fn hit(&self, key: &str, window_start: i64, window_seconds: u64) -> Result<u64, Error> {
        let key = format!("contacts:v{FORMAT}:rate:{key}:{window_start}");
        // INCR and EXPIRE in one atomic round trip; the key outlives its window a little, so
        // clocks that differ slightly between instances still share one count.
        self.run(|mut conn| async move {
            let (count,): (u64,) = redis::pipe()
                .atomic()
                .incr(&key, 1)
                .expire(&key, (window_seconds + 5) as i64)
                .ignore()
                .query_async(&mut conn)
                .await?;
            Ok(count)
        })
        .await
    }
}

fn failure_key(key: &str) -> String {
    // `failures`, not the `fail` of the counters before (plain numbers; these are sorted sets):
    // during a rolling upgrade the two codes count apart rather than misread each other's keys.
    format!("contacts:v{FORMAT}:failures:{key}")
}

/// The start of a failure script: Redis's clock in milliseconds, as `now`, so every
/// instance's failures are timed by the one clock they share.
macro_rules! now_ms {
    () => {
        "local t = redis.call('TIME') \
         local now = t[1] * 1000 + math.floor(t[2] / 1000) "
    };
}

/// Adds a failure to every key (`KEYS`) lasting `ARGV[1]` seconds and answers, per key, the
/// failures that have not run out (this one included) and the seconds until the earliest of
/// them does. A key is a sorted set of failures scored by when each runs out (members unique
/// by a number); the key itself expires with its last failure.
const ADD_FAILURE: &str = concat!(
    now_ms!(),
    "local window = tonumber(ARGV[1]) * 1000 \
     local out = {} \
     for i, key in ipairs(KEYS) do \
         redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%.0f', now)) \
         local ends = string.format('%.0f', now + window) \
         local n = redis.call('ZCARD', key) + 1 \
         while redis.call('ZSCORE', key, ends .. ':' .. n) do n = n + 1 end \
         redis.call('ZADD', key, ends, ends .. ':' .. n) \
         redis.call('PEXPIREAT', key, redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')[2]) \
         local first = tonumber(redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]) \
         out[i] = {redis.call('ZCARD', key), math.ceil((first - now) / 1000)} \
     end \
     return out"
);

/// Answers, per key, the failures that have not run out and the seconds until the earliest of
/// them does (`0, 0` for none), changing nothing.
const COUNT_FAILURES: &str = concat!(
    now_ms!(),
    "local out = {} \
     local after = string.format('(%.0f', now) \
     for i, key in ipairs(KEYS) do \
         local first = redis.call('ZRANGEBYSCORE', key, after, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)[2] \
         if first then \
             out[i] = {redis.call('ZCOUNT', key, after, '+inf'), math.ceil((tonumber(first) - now) / 1000)} \
         else \
             out[i] = {0, 0} \
         end \
     end \
     return out"
);

/// `EVAL` of `script` over `keys` with `args`, answering `(count, seconds)` pairs.
fn eval(script: &str, keys: &[String], args: &[u64]) -> redis::Cmd {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(script).arg(keys.len()).arg(keys).arg(args);
    cmd
}

/// A script's `(count, seconds)` pairs, a negative number of seconds (none) read as 0.
fn seconds_left(answers: Vec<(u64, i64)>) -> Vec<(u64, u64)> {
    answers.into_iter().map(|(count, seconds)| (count, u64::try_from(seconds).unwrap_or(0))).collect()
}

/// Every failure counter call goes to Redis first and, when Redis cannot answer (a failed call,
/// or the cache stepping aside after one), to the in-process counter instead: throttling goes
/// on per instance through an outage, and back to the shared counts once Redis answers. A
/// count begun in Redis and finished in process (or the other way) at the moment of a change
/// only takes back or clears what the other side holds, which is nothing or a failure fewer.
impl FailureCounter for RedisCache {
    async fn add_failure(&self, keys: &[String], window_seconds: u64) -> Result<Vec<(u64, u64)>, Error> {
        let shared: Vec<String> = keys.iter().map(|k| failure_key(k)).collect();
        let answers = self
            .run(|mut conn| async move {
                eval(ADD_FAILURE, &shared, &[window_seconds]).query_async::<Vec<(u64, i64)>>(&mut conn).await
            })
            .await;
        match answers {
            Ok(answers) => Ok(seconds_left(answers)),
            Err(_) => self.local_failures.add_failure(keys, window_seconds).await,
        }
    }

    async fn take_back(&self, keys: &[String]) -> Result<(), Error> {
        let shared: Vec<String> = keys.iter().map(|k| failure_key(k)).collect();
        // The latest-ending failure of each key (a key's failures all last the same window, so
        // it is the latest added); a set left empty is gone, and ZPOPMAX makes no key.
        let taken = self
            .run(|mut conn| async move {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for key in &shared {
                    pipe.cmd("ZPOPMAX").arg(key).ignore();
                }
                pipe.query_async::<()>(&mut conn).await
            })
            .await;
        match taken {
            Ok(()) => Ok(()),
            Err(_) => self.local_failures.take_back(keys).await,
        }
    }

    async fn counts(&self, keys: &[String]) -> Result<Vec<(u64, u64)>, Error> {
        let shared: Vec<String> = keys.iter().map(|k| failure_key(k)).collect();
        let answers = self
            .run(|mut conn| async move {
                eval(COUNT_FAILURES, &shared, &[]).query_async::<Vec<(u64, i64)>>(&mut conn).await
            })
            .await;
        match answers {
            Ok(answers) => Ok(seconds_left(answers)),
            Err(_) => self.local_failures.counts(keys).await,
        }
    }

    async fn clear(&self, key: &str) -> Result<(), Error> {
        let shared = failure_key(key);
        match self.run(|mut conn| async move { conn.del(shared).await }).await {
            Ok(()) => Ok(()),
            Err(_) => self.local_failures.clear(key).await,
        }
    }

    async fn pause(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}

#[cfg(test)]
mod tests;
