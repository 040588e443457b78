//! Against the Redis at [`URL`]. Every test uses its own random ids and keys, so tests running
//! in parallel (or other runs on the same Redis) never see each other's data, and deletes what it
//! created; raw writes carry an expiry in case a test fails before cleaning up.

use super::*;
use crate::Copies;

use std::time::Instant;

use chrono::{TimeZone, Utc};
use deadpool_redis::redis::aio::MultiplexedConnection;

use contacts_domain::EmailAddress;
use contacts_domain::user::Role;

const URL: &str = "redis://127.0.0.1:6379";
/// Nothing listens there: connections are refused at once.
const CLOSED_URL: &str = "redis://127.0.0.1:1";
const TTL_SECONDS: u64 = 77;
/// How long a call may take against an unreachable Redis (the contract is one second).
const GIVE_UP_WITHIN: Duration = Duration::from_millis(1_500);

/// A random id far above anything a real database hands out, never the same twice.
fn unique_id() -> i64 {
    (1 << 61) + (getrandom::u64().unwrap() >> 4) as i64
}

fn cache() -> RedisCache {
    RedisCache::new(URL, TTL_SECONDS).unwrap()
}

/// A connection of its own, to look at Redis behind the cache's back.
async fn raw() -> MultiplexedConnection {
    redis::Client::open(URL).unwrap().get_multiplexed_async_connection().await.unwrap()
}

async fn raw_get(key: &str) -> Option<String> {
    redis::cmd("GET").arg(key).query_async(&mut raw().await).await.unwrap()
}

/// Writes `value` under `key` for a minute.
async fn raw_set(key: &str, value: &str) {
    redis::cmd("SET").arg(key).arg(value).arg("EX").arg(60).query_async::<()>(&mut raw().await).await.unwrap();
}

async fn raw_ttl(key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query_async(&mut raw().await).await.unwrap()
}

async fn raw_exists(key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query_async::<i64>(&mut raw().await).await.unwrap() == 1
}

async fn raw_del(key: &str) {
    redis::cmd("DEL").arg(key).query_async::<i64>(&mut raw().await).await.unwrap();
}

/// Where a user is stored, spelled out rather than taken from the code under test.
fn key_of(id: i64) -> String {
    format!("contacts:v2:user:{id}")
}

fn rate_key_of(key: &str, window_start: i64) -> String {
    format!("contacts:v2:rate:{key}:{window_start}")
}

fn user(id: i64) -> User {
    User {
        id: UserId(id),
        username: "ada".to_owned(),
        email: EmailAddress::from_trusted("Ada@Example.org".to_owned()),
        avatar: Some("/media/avatars/ada.png".to_owned()),
        role: Role::Admin,
        confirmed: true,
        created_at: Utc.with_ymd_and_hms(2025, 6, 15, 12, 30, 45).unwrap() + chrono::Duration::microseconds(123_456),
        token_version: 3,
        ended_sessions: vec!["5e55".to_owned()],
    }
}

// ---------------------------------------------------------------------------------------------
// users

#[tokio::test]
async fn users_round_trip_as_json_without_any_secret() {
    let (cache, id) = (cache(), unique_id());
    let stored = user(id);

    cache.store(&stored).await.unwrap();
    let read = cache.copy(UserId(id)).await.unwrap();
    let raw_value = raw_get(&key_of(id)).await;
    raw_del(&key_of(id)).await;

    assert_eq!(read, Some(stored));
    let raw_value = raw_value.expect("the user is stored under contacts:v2:user:{id}");
    let json: serde_json::Value = serde_json::from_str(&raw_value).expect("the record is JSON");
    assert_eq!(json["v"], 2, "{raw_value}");
    assert_eq!(json["id"], id, "{raw_value}");
    assert!(!raw_value.to_lowercase().contains("password"), "{raw_value}");
    assert!(!raw_value.contains("$2b$"), "{raw_value}");
}

#[tokio::test]
async fn a_user_that_was_never_cached_is_a_miss() {
    assert_eq!(cache().copy(UserId(unique_id())).await.unwrap(), None);
}

#[tokio::test]
async fn cached_users_expire_after_the_configured_lifetime() {
    let (cache, id) = (cache(), unique_id());

    cache.store(&user(id)).await.unwrap();
    let ttl = raw_ttl(&key_of(id)).await;
    raw_del(&key_of(id)).await;

    assert!((1..=TTL_SECONDS as i64).contains(&ttl), "TTL {ttl}");
}

#[tokio::test]
async fn a_copy_read_before_a_change_is_not_put_after_it() {
    let (cache, elsewhere, id) = (cache(), cache(), unique_id());
    let other = unique_id();
    cache.store(&user(id)).await.unwrap();
    cache.store(&user(other)).await.unwrap();

    // A request misses; before it puts what it read, the user changes on another instance.
    cache.remove(UserId(id)).await.unwrap();
    let Lookup::Miss(seen) = cache.get(UserId(id)).await.unwrap() else { panic!("a miss") };
    elsewhere.remove(UserId(id)).await.unwrap();
    cache.put(&user(id), seen).await.unwrap();
    let stale = cache.copy(UserId(id)).await.unwrap();
    // The next request's miss sees the change's mark and caches what it reads.
    let changed = User { avatar: None, role: Role::User, token_version: 4, ..user(id) };
    cache.store(&changed).await.unwrap();
    let (fresh, ttl) = (cache.copy(UserId(id)).await.unwrap(), raw_ttl(&key_of(id)).await);
    let untouched = cache.copy(UserId(other)).await.unwrap();
    raw_del(&key_of(id)).await;
    raw_del(&key_of(other)).await;

    assert_eq!(stale, None, "the copy read before the change is refused");
    assert_eq!(fresh, Some(changed));
    assert!((TTL_SECONDS as i64 - 5..=TTL_SECONDS as i64).contains(&ttl), "{ttl}");
    assert_eq!(untouched, Some(user(other)), "only the changed user goes");
}

#[tokio::test]
async fn a_second_copy_is_not_put_over_the_first() {
    let (cache, id) = (cache(), unique_id());
    let Lookup::Miss(seen) = cache.get(UserId(id)).await.unwrap() else { panic!("a miss") };
    cache.store(&user(id)).await.unwrap();
    let other_read = User { token_version: 4, ..user(id) };
    cache.put(&other_read, seen).await.unwrap();
    let read = cache.copy(UserId(id)).await.unwrap();
    raw_del(&key_of(id)).await;

    assert_eq!(read, Some(user(id)));
}

#[tokio::test]
async fn removed_users_are_a_miss() {
    let (cache, id) = (cache(), unique_id());
    cache.store(&user(id)).await.unwrap();

    cache.remove(UserId(id)).await.unwrap();
    let read = cache.copy(UserId(id)).await.unwrap();
    let mark = raw_get(&key_of(id)).await;
    raw_del(&key_of(id)).await;

    assert_eq!(read, None);
    assert!(mark.is_some_and(|mark| mark.starts_with("forgotten:")), "a mark, no copy");
    cache.remove(UserId(id)).await.expect("removing a missing user is fine");
    raw_del(&key_of(id)).await;
}

/// An instance that may have missed notices of changes drops the copies it served, and only
/// those: another instance's stay (it listens for itself).
#[tokio::test]
async fn forgetting_what_was_served_drops_this_instances_copies_only() {
    let (mine, theirs) = (cache(), cache());
    let (ada, bob, eve) = (user(unique_id()), user(unique_id()), user(unique_id()));
    mine.put(&ada, CacheMark(None)).await.unwrap();
    theirs.put(&bob, CacheMark(None)).await.unwrap();
    theirs.put(&eve, CacheMark(None)).await.unwrap();
    assert!(matches!(mine.get(eve.id).await.unwrap(), Lookup::Hit(_)), "read through this instance too");

    assert_eq!(mine.forget_served().await.unwrap(), 2);
    assert!(matches!(mine.get(ada.id).await.unwrap(), Lookup::Miss(_)));
    assert!(matches!(theirs.get(eve.id).await.unwrap(), Lookup::Miss(_)));
    assert!(matches!(theirs.get(bob.id).await.unwrap(), Lookup::Hit(_)), "not served here: left alone");
    for id in [ada.id, bob.id, eve.id] {
        raw_del(&key_of(id.0)).await;
    }
}

#[tokio::test]
async fn a_record_of_another_format_is_a_miss() {
    let (cache, id) = (cache(), unique_id());
    let mut record: serde_json::Value = serde_json::from_str(&UserRecord::encode(&user(id))).unwrap();

    raw_set(&key_of(id), &record.to_string()).await;
    let current = cache.copy(UserId(id)).await.unwrap();
    record["v"] = serde_json::json!(FORMAT + 1);
    raw_set(&key_of(id), &record.to_string()).await;
    let newer = cache.copy(UserId(id)).await.unwrap();
    record["v"] = serde_json::json!(0);
    raw_set(&key_of(id), &record.to_string()).await;
    let older = cache.copy(UserId(id)).await.unwrap();
    raw_del(&key_of(id)).await;

    assert_eq!(current, Some(user(id)), "the same record at the current version reads");
    assert_eq!(newer, None);
    assert_eq!(older, None);
}

#[tokio::test]
async fn garbage_is_a_miss() {
    let (cache, id) = (cache(), unique_id());
    let mut unknown_role: serde_json::Value = serde_json::from_str(&UserRecord::encode(&user(id))).unwrap();
    unknown_role["role"] = serde_json::json!("root");

    for garbage in ["not json {", "", "null", "{\"v\":1}", "[1,2,3]", &unknown_role.to_string()] {
        raw_set(&key_of(id), garbage).await;
        let read = cache.copy(UserId(id)).await;
        assert!(matches!(read, Ok(None)), "{garbage:?} -> {read:?}");
    }
    raw_del(&key_of(id)).await;
}

// ---------------------------------------------------------------------------------------------
// rate limiter

#[tokio::test]
async fn hits_count_per_key_and_window_and_expire() {
    let cache = cache();
    let (key, other_key) = (format!("test:{}", unique_id()), format!("test:{}", unique_id()));
    let window_start = 1_750_000_020;
    let next_window = window_start + 60;

    let counts = [
        cache.hit(&key, window_start, 60).await.unwrap(),
        cache.hit(&key, window_start, 60).await.unwrap(),
        cache.hit(&key, window_start, 60).await.unwrap(),
        cache.hit(&other_key, window_start, 60).await.unwrap(),
        cache.hit(&key, next_window, 60).await.unwrap(),
    ];
    let ttl = raw_ttl(&rate_key_of(&key, window_start)).await;
    for created in
        [rate_key_of(&key, window_start), rate_key_of(&other_key, window_start), rate_key_of(&key, next_window)]
    {
        raw_del(&created).await;
    }

    assert_eq!(counts, [1, 2, 3, 1, 1]);
    assert!((1..=65).contains(&ttl), "a window of 60 s outlives itself a little at most: TTL {ttl}");
}

#[tokio::test]
async fn instances_on_the_same_redis_share_one_count() {
    let (first, second) = (cache(), cache());
    let key = format!("test:{}", unique_id());
    let window_start = 1_750_000_020;

    let counts = [
        first.hit(&key, window_start, 60).await.unwrap(),
        second.hit(&key, window_start, 60).await.unwrap(),
        first.hit(&key, window_start, 60).await.unwrap(),
        second.hit(&key, window_start, 60).await.unwrap(),
    ];
    raw_del(&rate_key_of(&key, window_start)).await;

    assert_eq!(counts, [1, 2, 3, 4]);
}

// ---------------------------------------------------------------------------------------------
// health and outages

#[tokio::test]
async fn ping_answers_when_redis_is_up() {
    assert!(cache().ping().await);
}

fn assert_unavailable_in_time<T: std::fmt::Debug>(what: &str, result: Result<T, Error>, started: Instant) {
    assert!(started.elapsed() < GIVE_UP_WITHIN, "{what} took {:?}", started.elapsed());
    assert!(matches!(result, Err(Error::Unavailable(_))), "{what}: {result:?}");
}

#[tokio::test]
async fn an_unreachable_redis_is_unavailable_quickly() {
    let cache = RedisCache::new(CLOSED_URL, TTL_SECONDS).expect("no connection is made up front");
    let id = unique_id();

    let started = Instant::now();
    assert_unavailable_in_time("get", cache.copy(UserId(id)).await, started);
    // Stepping aside now: the user cache is a miss and stores nothing, at once.
    let started = Instant::now();
    assert_eq!(cache.copy(UserId(id)).await.unwrap(), None);
    cache.store(&user(id)).await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());
    let started = Instant::now();
    assert_unavailable_in_time("remove", cache.remove(UserId(id)).await, started);
    let started = Instant::now();
    assert_unavailable_in_time("hit", cache.hit("test:closed", 1_750_000_020, 60).await, started);
    let started = Instant::now();
    assert!(!cache.ping().await);
    assert!(started.elapsed() < GIVE_UP_WITHIN, "ping took {:?}", started.elapsed());
}

/// A TCP proxy to the test Redis that can be cut: its connections are dropped and new ones are
/// accepted but never answered (a Redis that hangs), until it is opened again.
struct Proxy {
    port: u16,
    open: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (accepting, kept) = (open.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let forward = accepting.load(std::sync::atomic::Ordering::SeqCst);
                kept.lock().unwrap().push(tokio::spawn(async move {
                    if forward && let Ok(mut server) = tokio::net::TcpStream::connect("127.0.0.1:6379").await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    } else {
                        std::future::pending::<()>().await;
                    }
                }));
            }
        });
        Self { port, open, links }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        self.links.lock().unwrap().drain(..).for_each(|link| link.abort());
    }

    fn reopen(&self) {
        self.links.lock().unwrap().drain(..).for_each(|link| link.abort());
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_hung_redis_costs_one_timeout_then_the_cache_steps_aside_and_a_copy_it_could_not_drop_is_never_served() {
    let proxy = Proxy::start().await;
    let cache = RedisCache::new(&proxy.url(), TTL_SECONDS).unwrap();
    let ada = user(unique_id());
    cache.store(&ada).await.unwrap();
    assert_eq!(cache.copy(ada.id).await.unwrap(), Some(ada.clone()));

    // Ada changes while Redis hangs: her copy cannot be dropped, and stays in Redis.
    proxy.cut();
    let started = Instant::now();
    assert_unavailable_in_time("remove", cache.remove(ada.id).await, started);
    assert!(raw_exists(&key_of(ada.id.0)).await, "the stale copy is still there");
    // Stepping aside: no request waits on Redis.
    let started = Instant::now();
    let Lookup::Miss(seen_aside) = cache.get(ada.id).await.unwrap() else { panic!("a miss") };
    assert!(cache.hit("test:aside", 1_750_000_020, 60).await.is_err());
    assert!(started.elapsed() < Duration::from_millis(100), "{:?}", started.elapsed());

    // Redis answers again: the stale copy is dropped before anything is read.
    proxy.reopen();
    tokio::time::sleep(STEP_ASIDE).await;
    assert_eq!(cache.copy(ada.id).await.unwrap(), None, "never the stale copy");
    assert!(!raw_exists(&key_of(ada.id.0)).await, "dropped once Redis answered");
    // A copy read by a request that missed while Redis was not asked may predate the change.
    cache.put(&ada, seen_aside).await.unwrap();
    assert!(!raw_exists(&key_of(ada.id.0)).await, "not stored");
    cache.store(&ada).await.unwrap();
    assert_eq!(cache.copy(ada.id).await.unwrap(), Some(ada.clone()), "caching again");
    raw_del(&key_of(ada.id.0)).await;
}

#[test]
fn an_unusable_url_is_a_settings_error() {
    let error = RedisCache::new("not a url", TTL_SECONDS).unwrap_err();
    assert!(error.to_string().starts_with("REDIS_URL is invalid"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// login failures

#[tokio::test]
async fn failures_are_counted_each_for_its_window_and_are_shared() {
    let keys = vec![format!("test:{}", unique_id()), format!("test:{}", unique_id())];
    let (one, two) = (cache(), cache()); // two instances

    assert_eq!(one.add_failure(&keys, 60).await.unwrap(), vec![(1, 60), (1, 60)]);
    let counts = two.add_failure(&keys[..1], 900).await.unwrap();

    assert_eq!(counts[0].0, 2, "counted across instances");
    assert!((55..=60).contains(&counts[0].1), "until the earliest failure runs out: {counts:?}");
    one.clear(&keys[0]).await.unwrap();
    assert!(!raw_exists(&failure_key(&keys[0])).await, "cleared");
    one.clear(&keys[1]).await.unwrap();

    // Each failure runs out a window after it happened, not with a window begun at the first.
    let key = [format!("test:{}", unique_id())];
    one.add_failure(&key, 1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(two.add_failure(&key, 1).await.unwrap()[0].0, 2);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(one.add_failure(&key, 1).await.unwrap()[0], (2, 1), "the first ran out, the second not");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(two.counts(&key).await.unwrap()[0], (0, 0), "all ran out");
    assert!(!raw_exists(&failure_key(&key[0])).await, "and the key with them");
}

#[tokio::test]
async fn a_failure_taken_back_leaves_the_others_and_none_is_forgotten() {
    let keys = vec![format!("test:{}", unique_id()), format!("test:{}", unique_id())];
    let (one, two) = (cache(), cache());
    one.add_failure(&keys, 60).await.unwrap();
    one.add_failure(&keys[1..], 60).await.unwrap();

    two.take_back(&keys).await.unwrap();

    assert!(!raw_exists(&failure_key(&keys[0])).await, "its only failure taken back: forgotten, not 0 or -1");
    assert_eq!(one.add_failure(&keys[1..], 60).await.unwrap()[0].0, 2, "one of two taken back");
    two.take_back(&keys[..1]).await.unwrap();
    assert!(!raw_exists(&failure_key(&keys[0])).await, "a key without failures is not made by a take-back");
    one.clear(&keys[1]).await.unwrap();
}

#[tokio::test]
async fn counts_are_read_without_counting_anything() {
    let keys = vec![format!("test:{}", unique_id()), format!("test:{}", unique_id())];
    let (one, two) = (cache(), cache());
    one.add_failure(&keys[..1], 60).await.unwrap();
    one.add_failure(&keys[..1], 60).await.unwrap();

    let counts = two.counts(&keys).await.unwrap();

    assert_eq!(counts[0].0, 2, "another instance's failures: {counts:?}");
    assert!((55..=60).contains(&counts[0].1), "with the seconds left: {counts:?}");
    assert_eq!(counts[1], (0, 0), "a key without failures");
    assert_eq!(two.counts(&keys).await.unwrap()[0].0, 2, "reading counted nothing");
    assert!(!raw_exists(&failure_key(&keys[1])).await, "reading made no key");
    one.clear(&keys[0]).await.unwrap();
}

#[tokio::test]
async fn failures_are_counted_in_process_while_redis_cannot_be_reached() {
    // An outage of the shared counter must not leave password guessing unthrottled.
    let cache = RedisCache::new(CLOSED_URL, TTL_SECONDS).unwrap();
    let keys = ["pair".to_owned(), "address".to_owned()];
    let numbers = |counts: Vec<(u64, u64)>| counts.into_iter().map(|(n, _)| n).collect::<Vec<_>>();
    let started = Instant::now();
    assert_eq!(numbers(cache.add_failure(&keys, 60).await.unwrap()), [1, 1]);
    assert!(started.elapsed() < GIVE_UP_WITHIN, "{:?}", started.elapsed());
    let counted = cache.add_failure(&keys, 60).await.unwrap();
    assert_eq!(counted[0].0, 2);
    assert!((1..=60).contains(&counted[0].1), "seconds left in the window: {counted:?}");
    cache.take_back(&keys).await.unwrap();
    assert_eq!(numbers(cache.counts(&keys).await.unwrap()), [1, 1]);
    cache.clear("pair").await.unwrap();
    assert_eq!(numbers(cache.counts(&keys).await.unwrap()), [0, 1]);
}
