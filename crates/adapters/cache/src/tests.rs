//! [`AnyCache`]'s own work: what it counts in [`USER_CACHE_REQUESTS`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};

use super::*;
use crate::Copies;

/// Counts [`USER_CACHE_REQUESTS`] by `result`, for this thread only (a local recorder), so tests
/// running beside it cannot add to its counts.
#[derive(Default)]
struct LookupCounts(Mutex<HashMap<String, Arc<AtomicU64>>>);

impl LookupCounts {
    fn of(&self, result: &str) -> u64 {
        self.0.lock().unwrap().get(result).map_or(0, |n| n.load(Ordering::Relaxed))
    }
}

impl Recorder for LookupCounts {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        assert_eq!(key.name(), USER_CACHE_REQUESTS);
        let result = key.labels().find(|l| l.key() == "result").map(|l| l.value().to_owned()).unwrap_or_default();
        Counter::from_arc(self.0.lock().unwrap().entry(result).or_default().clone())
    }

    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }

    fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::noop()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn lookups_redis_was_not_asked_while_stepping_aside_count_as_errors_not_misses() {
    let counts = LookupCounts::default();
    let _local = metrics::set_default_local_recorder(&counts);
    // Nothing listens there: the first lookup fails, and the cache steps aside.
    let cache = AnyCache::Redis(RedisCache::new("redis://127.0.0.1:1", 60).unwrap());

    assert!(cache.copy(UserId(1)).await.is_err());
    assert!(matches!(&cache, AnyCache::Redis(redis) if redis.is_stepped_aside()));
    assert_eq!(cache.copy(UserId(1)).await.unwrap(), None, "answered as a miss…");
    assert_eq!((counts.of("error"), counts.of("miss")), (2, 0), "…but counted as the error it is");

    let memory = AnyCache::Memory(MemoryCache::new(std::time::Duration::from_secs(60)));
    assert_eq!(memory.copy(UserId(1)).await.unwrap(), None);
    assert_eq!(counts.of("miss"), 1, "a real miss");
}
