use super::*;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9));

fn settings() -> ThrottleSettings {
    ThrottleSettings { max_failures: 5, max_failures_per_ip: 100, window_seconds: 900 }
}

/// The failures each key counts, as a real counter would keep them.
type Counts = Arc<Mutex<HashMap<String, u64>>>;

/// A counter that starts the pair at `pair` failures and the address at `address`, counts
/// (atomically, as Redis does) and records each call, with `left` seconds in every window.
fn counter(pair: u64, address: u64, left: u64) -> (MockFailureCounter, Counts, Arc<Mutex<Vec<String>>>) {
    let counts: Counts =
        Arc::new(Mutex::new(HashMap::from([(pair_key("ada", CLIENT), pair), (address_key(CLIENT), address)])));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut counter = MockFailureCounter::new();
    let (held, log) = (counts.clone(), calls.clone());
    counter.expect_add_failure().returning(move |keys, window| {
        assert_eq!(window, 900);
        log.lock().unwrap().push("count".to_owned());
        let mut held = held.lock().unwrap();
        Ok(keys
            .iter()
            .map(|key| {
                let count = held.entry(key.clone()).or_default();
                *count += 1;
                (*count, left)
            })
            .collect())
    });
    let (held, log) = (counts.clone(), calls.clone());
    counter.expect_take_back().returning(move |keys| {
        log.lock().unwrap().push(format!("take back {}", keys.len()));
        let mut held = held.lock().unwrap();
        for key in keys {
            if let Some(count) = held.get_mut(key) {
                *count = count.saturating_sub(1);
            }
        }
        Ok(())
    });
    let (held, log) = (counts.clone(), calls.clone());
    counter.expect_clear().returning(move |key| {
        log.lock().unwrap().push("clear pair".to_owned());
        held.lock().unwrap().remove(key);
        Ok(())
    });
    let (held, log) = (counts.clone(), calls.clone());
    counter.expect_counts().returning(move |keys| {
        log.lock().unwrap().push("read".to_owned());
        let held = held.lock().unwrap();
        Ok(keys.iter().map(|key| held.get(key).map_or((0, 0), |count| (*count, left))).collect())
    });
    let log = calls.clone();
    counter.expect_pause().returning(move |_| log.lock().unwrap().push("pause".to_owned()));
    (counter, counts, calls)
}

/// A counter as the adapters keep one (atomic per call, in process), whose pauses really wait,
/// so attempts running at the same time settle while another pauses; it counts the pauses.
#[derive(Default)]
struct Waiting(Mutex<HashMap<String, u64>>, std::sync::atomic::AtomicUsize);

impl FailureCounter for Waiting {
    async fn add_failure(&self, keys: &[String], _window_seconds: u64) -> Result<Vec<(u64, u64)>, Error> {
        let mut held = self.0.lock().unwrap();
        Ok(keys
            .iter()
            .map(|key| {
                let count = held.entry(key.clone()).or_default();
                *count += 1;
                (*count, 900)
            })
            .collect())
    }

    async fn take_back(&self, keys: &[String]) -> Result<(), Error> {
        let mut held = self.0.lock().unwrap();
        for key in keys {
            if let Some(count) = held.get_mut(key) {
                *count = count.saturating_sub(1);
            }
        }
        Ok(())
    }

    async fn counts(&self, keys: &[String]) -> Result<Vec<(u64, u64)>, Error> {
        let held = self.0.lock().unwrap();
        Ok(keys.iter().map(|key| (held.get(key).copied().unwrap_or(0), 900)).collect())
    }

    async fn clear(&self, key: &str) -> Result<(), Error> {
        self.0.lock().unwrap().remove(key);
        Ok(())
    }

    async fn pause(&self, duration: std::time::Duration) {
        self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(duration).await;
    }
}

/// What `counts` holds for the pair and the address.
fn held(counts: &Counts) -> (u64, u64) {
    let counts = counts.lock().unwrap();
    let of = |key: &str| counts.get(key).copied().unwrap_or(0);
    (of(&pair_key("ada", CLIENT)), of(&address_key(CLIENT)))
}

/// The attempts `counts` holds in flight for the pair and the address.
fn held_in_flight(counts: &Counts) -> (u64, u64) {
    let counts = counts.lock().unwrap();
    let of = |key: &str| counts.get(&in_flight_key(key)).copied().unwrap_or(0);
    (of(&pair_key("ada", CLIENT)), of(&address_key(CLIENT)))
}

#[tokio::test]
async fn a_wrong_password_counts_for_the_pair_and_the_address() {
    let (counter, counts, calls) = counter(3, 3, 100);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("Ada", CLIENT, async { Err::<(), _>(Error::InvalidCredentials) }).await;

    assert!(matches!(outcome, Err(Error::InvalidCredentials)));
    assert_eq!(held(&counts), (4, 4));
    assert_eq!(held_in_flight(&counts), (0, 0));
    assert_eq!(
        calls.lock().unwrap().clone(),
        ["count", "take back 2"],
        "the count made up front stands, no longer in flight"
    );
}

#[tokio::test]
async fn at_the_limit_even_the_right_password_is_refused_without_trying_it() {
    let (counter, counts, calls) = counter(5, 5, 640);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("ada", CLIENT, async { panic!("the password must not be checked") }).await;

    assert!(matches!(outcome, Err::<(), _>(Error::LoginThrottled { retry_after: 640 })));
    assert_eq!(held(&counts), (5, 5), "a refused attempt is not a failure: its count is taken back");
    assert_eq!(held_in_flight(&counts), (0, 0));
    assert_eq!(calls.lock().unwrap().clone(), ["count", "take back 4"], "five settled failures: refused at once");
}

#[tokio::test]
async fn past_the_limit_only_with_attempts_in_flight_an_attempt_waits_for_them() {
    // Three failures settled and two attempts still running: a sixth attempt is past the limit
    // of five only by those two, which may yet succeed.
    let (counter, counts, calls) = counter(5, 5, 640);
    counts.lock().unwrap().insert(in_flight_key(&pair_key("ada", CLIENT)), 2);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("ada", CLIENT, async { panic!("the password must not be checked") }).await;

    assert!(matches!(outcome, Err::<(), _>(Error::LoginThrottled { retry_after: 640 })), "they never settled");
    assert_eq!(held(&counts), (5, 5));
    let log = calls.lock().unwrap().clone();
    let pauses = log.iter().filter(|call| *call == "pause").count();
    assert_eq!(pauses, SETTLE_PAUSES_MS.len(), "refused once the attempts before it could settle: {log:?}");
}

#[tokio::test]
async fn the_right_password_sent_many_times_at_once_is_never_refused() {
    let throttle = LoginThrottle::new(Waiting::default(), settings());
    // Eight logins at once for one name from one address (a client's tabs, a sync client's
    // parallel requests): more than the limit of five are counted at the same time, and none
    // has failed.
    let login = || {
        throttle.login("ada", CLIENT, async {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            Ok::<(), Error>(())
        })
    };

    let outcomes = futures_util::future::join_all((0..8).map(|_| login())).await;

    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
}

#[tokio::test]
async fn the_last_try_under_the_limit_is_run() {
    let (counter, counts, _) = counter(4, 4, 100);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("ada", CLIENT, async { Err::<(), _>(Error::InvalidCredentials) }).await;

    assert!(matches!(outcome, Err(Error::InvalidCredentials)), "the fifth failure is still a 401");
    assert_eq!(held(&counts), (5, 5));
}

#[tokio::test]
async fn guesses_sent_at_once_get_no_more_tries_than_the_limit() {
    let (counter, counts, _) = counter(3, 3, 100);
    let throttle = LoginThrottle::new(counter, settings());
    let tried = Arc::new(Mutex::new(0));
    // Every guess is counted before any of them is checked: a counter read before the attempt
    // and written after it would let all ten through.
    let gate = Arc::new(tokio::sync::Barrier::new(2));
    let guess = || {
        let (tried, gate) = (tried.clone(), gate.clone());
        throttle.login("ada", CLIENT, async move {
            *tried.lock().unwrap() += 1;
            gate.wait().await;
            Err::<(), _>(Error::InvalidCredentials)
        })
    };

    let outcomes = futures_util::future::join_all((0..10).map(|_| guess())).await;

    let throttled = outcomes.iter().filter(|o| matches!(o, Err(Error::LoginThrottled { .. }))).count();
    assert_eq!((*tried.lock().unwrap(), throttled), (2, 8), "two tries were left under the limit of five");
    assert_eq!(held(&counts), (5, 5));
    assert_eq!(held_in_flight(&counts), (0, 0));
}

#[tokio::test]
async fn an_address_past_its_own_limit_is_refused_whatever_the_name() {
    let (counter, _, _) = counter(0, 100, 30);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("ada", CLIENT, async { Ok(()) }).await;

    assert!(matches!(outcome, Err(Error::LoginThrottled { retry_after: 30 })));
}

#[tokio::test]
async fn a_success_clears_the_pair_and_is_no_failure_of_the_address() {
    let (counter, counts, calls) = counter(4, 40, 100);
    let throttle = LoginThrottle::new(counter, settings());

    throttle.login("ADA", CLIENT, async { Ok(()) }).await.unwrap();

    assert_eq!(held(&counts), (0, 40));
    assert_eq!(held_in_flight(&counts), (0, 0));
    assert_eq!(calls.lock().unwrap().clone(), ["count", "clear pair", "take back 3"]);
}

#[tokio::test]
async fn an_unconfirmed_account_is_neither_a_failure_nor_a_success() {
    let (counter, counts, _) = counter(2, 2, 100);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("ada", CLIENT, async { Err::<(), _>(Error::EmailNotConfirmed) }).await;

    assert!(matches!(outcome, Err(Error::EmailNotConfirmed)));
    assert_eq!(held(&counts), (2, 2), "counted up front, then taken back");
    assert_eq!(held_in_flight(&counts), (0, 0));
}

#[tokio::test]
async fn an_unreachable_counter_does_not_lock_anyone_out() {
    let mut counter = MockFailureCounter::new();
    counter.expect_add_failure().returning(|_, _| Err(Error::Unavailable("redis down".into())));
    let throttle = LoginThrottle::new(counter, settings());

    assert_eq!(throttle.login("ada", CLIENT, async { Ok(7) }).await.unwrap(), 7);
}

#[test]
fn names_are_compared_ignoring_case_and_addresses_are_kept_apart() {
    let other: IpAddr = "203.0.113.10".parse().unwrap();
    assert_eq!(pair_key("Ada@Example.org", CLIENT), pair_key("ada@example.org", CLIENT));
    // Spellings the store finds one account by share one key ('İ' lower-cases to 'i' there).
    assert_eq!(pair_key("bİllİe", CLIENT), pair_key("billie", CLIENT));
    assert_eq!(pair_key("ΟΔΟΣ@example.org", CLIENT), pair_key("οδοσ@example.org", CLIENT));
    assert_ne!(pair_key("ada", CLIENT), pair_key("ada", other));
    assert_ne!(pair_key("ada", CLIENT), pair_key("bob", CLIENT));
}

#[tokio::test]
async fn a_nameless_failure_counts_for_the_address_alone_and_past_its_limit_is_throttled() {
    let (counter, counts, calls) = counter(3, 99, 300);
    let throttle = LoginThrottle::new(counter, settings());

    let last_under = throttle.nameless_failure(CLIENT, Error::Unauthenticated).await;
    assert!(matches!(last_under, Error::Unauthenticated), "the hundredth failure is still a 401");
    assert_eq!(held(&counts), (3, 100), "the address counts it; no name was tried");
    let past = throttle.nameless_failure(CLIENT, Error::Unauthenticated).await;
    assert!(matches!(past, Error::LoginThrottled { retry_after: 300 }));
    // Refused, it does not count: the address keeps its limit of failures, however many more
    // it sends while locked (each failure is kept until it runs out).
    assert_eq!(calls.lock().unwrap().clone(), ["count", "count", "take back 1"], "no pair cleared");
    assert_eq!(held(&counts), (3, 100));

    let login = throttle.login("bob", CLIENT, async { panic!("the password must not be checked") }).await;
    assert!(matches!(login, Err::<(), _>(Error::LoginThrottled { .. })), "the address's logins are refused too");
}

#[tokio::test]
async fn a_nameless_failure_goes_uncounted_when_the_counter_is_unreachable() {
    let mut counter = MockFailureCounter::new();
    counter.expect_add_failure().returning(|_, _| Err(Error::unexpected("redis down")));
    let throttle = LoginThrottle::new(counter, settings());

    assert!(matches!(throttle.nameless_failure(CLIENT, Error::Unauthenticated).await, Error::Unauthenticated));
}

#[tokio::test]
async fn a_right_secret_under_the_limits_only_reads_the_counts() {
    let (counter, counts, calls) = counter(0, 7, 100);
    let throttle = LoginThrottle::new(counter, settings());

    assert_eq!(throttle.secret_login("ada", CLIENT, async { Ok(1) }).await.unwrap(), 1);

    assert_eq!(held(&counts), (0, 7));
    assert_eq!(calls.lock().unwrap().clone(), ["read"], "nothing counted up front or taken back");
}

#[tokio::test]
async fn a_wrong_secret_is_counted_after_it_failed() {
    let (counter, counts, calls) = counter(4, 4, 100);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.secret_login("ada", CLIENT, async { Err::<(), _>(Error::InvalidCredentials) }).await;

    assert!(matches!(outcome, Err(Error::InvalidCredentials)), "the fifth failure is still a 401");
    assert_eq!(held(&counts), (5, 5));
    assert_eq!(calls.lock().unwrap().clone(), ["read", "count"]);
    let next = throttle.secret_login("ada", CLIENT, async { panic!("the secret must not be checked") }).await;
    assert!(matches!(next, Err::<(), _>(Error::LoginThrottled { retry_after: 100 })), "the pair is locked now");
}

#[tokio::test]
async fn a_right_secret_clears_the_pairs_failures() {
    let (counter, counts, calls) = counter(2, 2, 100);
    let throttle = LoginThrottle::new(counter, settings());

    throttle.secret_login("ada", CLIENT, async { Ok(()) }).await.unwrap();

    assert_eq!(held(&counts), (0, 2), "as a password login's success does");
    assert_eq!(calls.lock().unwrap().clone(), ["read", "clear pair"]);
}

#[tokio::test]
async fn a_secret_of_an_address_at_its_limit_is_refused_as_a_password_would_be() {
    let (counter, counts, calls) = counter(0, 100, 30);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.secret_login("ada", CLIENT, async { panic!("the secret must not be checked") }).await;

    assert!(matches!(outcome, Err::<(), _>(Error::LoginThrottled { retry_after: 30 })));
    assert_eq!(held(&counts), (0, 100));
    assert_eq!(
        calls.lock().unwrap().clone(),
        ["read", "count", "take back 4"],
        "the careful way: a lock, refused at once"
    );
}

#[tokio::test]
async fn right_secrets_sent_many_times_at_once_neither_wait_nor_fail() {
    let throttle = LoginThrottle::new(Waiting::default(), settings());
    let sign_in = || {
        throttle.secret_login("ada", CLIENT, async {
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            Ok::<(), Error>(())
        })
    };

    let outcomes = futures_util::future::join_all((0..32).map(|_| sign_in())).await;

    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(throttle.counter.1.load(std::sync::atomic::Ordering::Relaxed), 0, "none paused");
}

#[tokio::test]
async fn a_secret_is_checked_when_the_counter_is_unreachable() {
    let mut counter = MockFailureCounter::new();
    counter.expect_counts().returning(|_| Err(Error::Unavailable("redis down".into())));
    let throttle = LoginThrottle::new(counter, settings());

    assert_eq!(throttle.secret_login("ada", CLIENT, async { Ok(7) }).await.unwrap(), 7);
}
