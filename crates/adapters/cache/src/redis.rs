//! [`RedisCache`]: the cache and limiter ports on Redis, through a deadpool-redis pool.

use std::collections::HashSet;
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
}

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
        Ok(Self { pool, shared: Arc::default(), ttl_seconds, health: Arc::default(), local_failures })
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
            Some(user) => Ok(Lookup::Hit(user)),
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
    format!("contacts:v{FORMAT}:fail:{key}")
}

/// Takes one failure back from every key (`KEYS`) that still counts one; deletes a key left
/// at none.
const TAKE_BACK: &str = "for _, key in ipairs(KEYS) do \
    local n = tonumber(redis.call('GET', key)) \
    if n and n > 1 then redis.call('DECR', key) elseif n then redis.call('DEL', key) end \
end";

/// Every failure counter call goes to Redis first and, when Redis cannot answer (a failed call,
/// or the cache stepping aside after one), to the in-process counter instead: throttling goes
/// on per instance through an outage, and back to the shared counts once Redis answers. A
/// count begun in Redis and finished in process (or the other way) at the moment of a change
/// only takes back or clears what the other side holds, which is nothing or a failure fewer.
impl FailureCounter for RedisCache {
    async fn add_failure(&self, keys: &[String], window_seconds: u64) -> Result<Vec<(u64, u64)>, Error> {
        let shared: Vec<String> = keys.iter().map(|k| failure_key(k)).collect();
        // INCR, the window's expiry started only at the first failure (EXPIRE NX), and the
        // seconds left (TTL) of every key, in one atomic round trip.
        let answers = self
            .run(|mut conn| async move {
                let mut pipe = redis::pipe();
                pipe.atomic();
                for key in &shared {
                    pipe.incr(key, 1).cmd("EXPIRE").arg(key).arg(window_seconds).arg("NX").ignore().ttl(key);
                }
                pipe.query_async::<Vec<(u64, i64)>>(&mut conn).await
            })
            .await;
        match answers {
            Ok(answers) => {
                Ok(answers.into_iter().map(|(count, ttl)| (count, u64::try_from(ttl).unwrap_or(0))).collect())
            }
            Err(_) => self.local_failures.add_failure(keys, window_seconds).await,
        }
    }

    async fn take_back(&self, keys: &[String]) -> Result<(), Error> {
        let shared: Vec<String> = keys.iter().map(|k| failure_key(k)).collect();
        // One script, so a key cannot expire between the read and the DECR (which would make
        // it -1 with no expiry).
        let taken = self
            .run(|mut conn| async move {
                redis::cmd("EVAL").arg(TAKE_BACK).arg(shared.len()).arg(&shared).query_async::<()>(&mut conn).await
            })
            .await;
        match taken {
            Ok(()) => Ok(()),
            Err(_) => self.local_failures.take_back(keys).await,
        }
    }

    async fn counts(&self, keys: &[String]) -> Result<Vec<(u64, u64)>, Error> {
        let shared: Vec<String> = keys.iter().map(|k| failure_key(k)).collect();
        // GET and TTL of every key in one round trip; a key that expires in between reads as
        // counting none or with no time left, both harmless for a read that decides no lock.
        let answers = self
            .run(|mut conn| async move {
                let mut pipe = redis::pipe();
                for key in &shared {
                    pipe.get(key).ttl(key);
                }
                pipe.query_async::<Vec<(Option<u64>, i64)>>(&mut conn).await
            })
            .await;
        match answers {
            Ok(answers) => Ok(answers
                .into_iter()
                .map(|(count, ttl)| (count.unwrap_or(0), u64::try_from(ttl).unwrap_or(0)))
                .collect()),
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
