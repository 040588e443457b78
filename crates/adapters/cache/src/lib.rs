//! Cache adapters: the domain's [`UserCache`] and [`RateLimiter`] ports on Redis, shared by
//! every instance of the service, or in process when no Redis is configured.
//!
//! Redis is an accelerator, never a dependency: every call gives up within a second, and the
//! domain treats cache failures as misses and the limiter fails open. Login failures are the
//! exception: while Redis cannot be reached they are counted in process, so the login throttle
//! holds through an outage (per instance).
#![deny(missing_docs)]

mod memory;
mod record;
mod redis;
#[cfg(test)]
mod tests;

/// What the tests of the caches ask: a copy or none, and a copy stored as a request does it.
#[cfg(test)]
pub(crate) trait Copies: UserCache {
    /// The copy, if there is one.
    async fn copy(&self, id: UserId) -> Result<Option<User>, Error> {
        Ok(match self.get(id).await? {
            Lookup::Hit(user) => Some(user),
            Lookup::Miss(_) => None,
        })
    }

    /// A miss, then a put with its mark, as a request caching `user` does.
    async fn store(&self, user: &User) -> Result<(), Error> {
        match self.get(user.id).await? {
            Lookup::Hit(_) => Ok(()),
            Lookup::Miss(seen) => self.put(user, seen).await,
        }
    }
}

#[cfg(test)]
impl<T: UserCache> Copies for T {}

pub use memory::MemoryCache;
pub use redis::{RedisCache, RedisSettingsError};

use contacts_domain::Error;
use contacts_domain::user::{CacheMark, Lookup, RateLimiter, User, UserCache, UserId};

/// The cache chosen by configuration.
#[derive(Debug, Clone)]
pub enum AnyCache {
    /// Redis, shared across instances.
    Redis(RedisCache),
    /// This process only.
    Memory(MemoryCache),
}

impl AnyCache {
    /// Whether the cache answers now (always true in process): `/readyz` reports it.
    pub async fn is_healthy(&self) -> bool {
        match self {
            Self::Redis(cache) => cache.ping().await,
            Self::Memory(_) => true,
        }
    }
}

/// The `user_cache_requests_total` counter, by `result` (`hit`, `miss`, `error`).
pub const USER_CACHE_REQUESTS: &str = "user_cache_requests_total";

impl UserCache for AnyCache {
    /// Counts each lookup in [`USER_CACHE_REQUESTS`], so operators see the hit rate. A lookup
    /// Redis was not asked because the cache steps aside after a failure is an `error`: it is
    /// answered as a miss, but the cache did not work.
    async fn get(&self, id: UserId) -> Result<Lookup, Error> {
        let (found, aside) = match self {
            Self::Redis(c) => {
                let aside = c.is_stepped_aside();
                (c.get(id).await, aside)
            }
            Self::Memory(c) => (c.get(id).await, false),
        };
        let result = match &found {
            Ok(Lookup::Hit(_)) => "hit",
            Ok(Lookup::Miss(_)) if aside => "error",
            Ok(Lookup::Miss(_)) => "miss",
            Err(_) => "error",
        };
        metrics::counter!(USER_CACHE_REQUESTS, "result" => result).increment(1);
        found
    }

    async fn put(&self, user: &User, seen: CacheMark) -> Result<(), Error> {
        match self {
            Self::Redis(c) => c.put(user, seen).await,
            Self::Memory(c) => c.put(user, seen).await,
        }
    }

    async fn remove(&self, id: UserId) -> Result<(), Error> {
        match self {
            Self::Redis(c) => c.remove(id).await,
            Self::Memory(c) => c.remove(id).await,
        }
    }
}

impl contacts_domain::throttle::FailureCounter for AnyCache {
    async fn add_failure(&self, keys: &[String], window_seconds: u64) -> Result<Vec<(u64, u64)>, Error> {
        match self {
            Self::Redis(c) => c.add_failure(keys, window_seconds).await,
            Self::Memory(c) => c.add_failure(keys, window_seconds).await,
        }
    }

    async fn take_back(&self, keys: &[String]) -> Result<(), Error> {
        match self {
            Self::Redis(c) => c.take_back(keys).await,
            Self::Memory(c) => c.take_back(keys).await,
        }
    }

    async fn counts(&self, keys: &[String]) -> Result<Vec<(u64, u64)>, Error> {
        match self {
            Self::Redis(c) => c.counts(keys).await,
            Self::Memory(c) => c.counts(keys).await,
        }
    }

    async fn clear(&self, key: &str) -> Result<(), Error> {
        match self {
            Self::Redis(c) => c.clear(key).await,
            Self::Memory(c) => c.clear(key).await,
        }
    }

    async fn pause(&self, duration: std::time::Duration) {
        match self {
            Self::Redis(c) => c.pause(duration).await,
            Self::Memory(c) => c.pause(duration).await,
        }
    }
}

impl RateLimiter for AnyCache {
    async fn hit(&self, key: &str, window_start: i64, window_seconds: u64) -> Result<u64, Error> {
        match self {
            Self::Redis(c) => c.hit(key, window_start, window_seconds).await,
            Self::Memory(c) => c.hit(key, window_start, window_seconds).await,
        }
    }
}
