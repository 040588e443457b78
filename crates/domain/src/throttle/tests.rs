use super::*;

use std::sync::{Arc, Mutex};

const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9));

fn settings() -> ThrottleSettings {
    ThrottleSettings { max_failures: 5, max_failures_per_ip: 100, window_seconds: 900 }
}

/// A counter that answers `counts` with `counts` and records the other calls.
fn counter(counts: Vec<(u64, u64)>) -> (MockFailureCounter, Arc<Mutex<Vec<String>>>) {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let mut counter = MockFailureCounter::new();
    counter.expect_counts().returning(move |keys| {
        assert_eq!(keys.len(), 2);
        Ok(counts.clone())
    });
    let log = calls.clone();
    counter.expect_add_failure().returning(move |keys, window| {
        assert_eq!(window, 900);
        log.lock().unwrap().push(format!("fail {}", keys.join(" ")));
        Ok(())
    });
    let log = calls.clone();
    counter.expect_clear().returning(move |key| {
        log.lock().unwrap().push(format!("clear {key}"));
        Ok(())
    });
    (counter, calls)
}

#[tokio::test]
async fn a_wrong_password_counts_for_the_pair_and_the_address() {
    let (counter, calls) = counter(vec![(4, 100), (4, 100)]);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("Ada", CLIENT, async { Err::<(), _>(Error::InvalidCredentials) }).await;

    assert!(matches!(outcome, Err(Error::InvalidCredentials)));
    let calls = calls.lock().unwrap().clone();
    assert_eq!(calls, vec![format!("fail {} {}", pair_key("ada", CLIENT), address_key(CLIENT))]);
}

#[tokio::test]
async fn at_the_limit_even_the_right_password_is_refused_without_trying_it() {
    let (counter, calls) = counter(vec![(5, 640), (5, 640)]);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("ada", CLIENT, async { panic!("the password must not be checked") }).await;

    assert!(matches!(outcome, Err::<(), _>(Error::LoginThrottled { retry_after: 640 })));
    assert!(calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_address_past_its_own_limit_is_refused_whatever_the_name() {
    let (counter, _) = counter(vec![(0, 0), (100, 30)]);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("someone-else", CLIENT, async { Ok(()) }).await;

    assert!(matches!(outcome, Err(Error::LoginThrottled { retry_after: 30 })));
}

#[tokio::test]
async fn a_success_clears_the_pair_only() {
    let (counter, calls) = counter(vec![(4, 100), (40, 100)]);
    let throttle = LoginThrottle::new(counter, settings());

    throttle.login("ADA", CLIENT, async { Ok(()) }).await.unwrap();

    assert_eq!(calls.lock().unwrap().clone(), vec![format!("clear {}", pair_key("ada", CLIENT))]);
}

#[tokio::test]
async fn an_unconfirmed_account_is_neither_a_failure_nor_a_success() {
    let (counter, calls) = counter(vec![(0, 0), (0, 0)]);
    let throttle = LoginThrottle::new(counter, settings());

    let outcome = throttle.login("ada", CLIENT, async { Err::<(), _>(Error::EmailNotConfirmed) }).await;

    assert!(matches!(outcome, Err(Error::EmailNotConfirmed)));
    assert!(calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_unreachable_counter_does_not_lock_anyone_out() {
    let mut counter = MockFailureCounter::new();
    counter.expect_counts().returning(|_| Err(Error::Unavailable("redis down".into())));
    counter.expect_clear().returning(|_| Err(Error::Unavailable("redis down".into())));
    let throttle = LoginThrottle::new(counter, settings());

    assert_eq!(throttle.login("ada", CLIENT, async { Ok(7) }).await.unwrap(), 7);
}

#[test]
fn names_are_compared_ignoring_case_and_addresses_are_kept_apart() {
    let other: IpAddr = "203.0.113.10".parse().unwrap();
    assert_eq!(pair_key("Ada@Example.org", CLIENT), pair_key("ada@example.org", CLIENT));
    assert_ne!(pair_key("ada", CLIENT), pair_key("ada", other));
    assert_ne!(pair_key("ada", CLIENT), pair_key("bob", CLIENT));
}
