//! The login throttle from outside: lockouts per name and address, trusted proxies (addresses
//! and ranges), counts shared through Redis. The test client always connects from 127.0.0.1;
//! `X-Forwarded-For` plays the clients behind a proxy.

use reqwest::{RequestBuilder, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, expect, spawn_app_with};

const REDIS: &str = "redis://127.0.0.1:6379";

/// A REST login of `name` as if from `address` behind a proxy.
async fn login_from(app: &TestApp, address: &str, name: &str, password: &str) -> reqwest::Response {
    app.request(reqwest::Method::POST, "/api/auth/login")
        .header("X-Forwarded-For", address)
        .form(&[("username", name), ("password", password)])
        .send()
        .await
        .unwrap()
}

/// The status of [`login_from`].
async fn status_from(app: &TestApp, address: &str, name: &str, password: &str) -> StatusCode {
    login_from(app, address, name, password).await.status()
}

fn random_address() -> String {
    let hex = contacts_test_support::random_hex(3);
    let n = u32::from_str_radix(&hex, 16).unwrap();
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_name_from_that_address_even_for_the_right_one() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    app.user("ada").await;
    let attacker = random_address();
    for _ in 0..5 {
        expect(login_from(&app, &attacker, "ada", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    }
    let locked = login_from(&app, &attacker, "ADA", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    assert_eq!(locked.json::<serde_json::Value>().await.unwrap(), json!({"detail": "Too many failed login attempts"}));

    // The owner, elsewhere, is not locked out.
    expect(login_from(&app, &random_address(), "ada", PASSWORD).await, StatusCode::OK).await;
    // An unknown name is throttled the same way.
    for _ in 0..5 {
        expect(login_from(&app, &attacker, "nobody", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    }
    expect(login_from(&app, &attacker, "nobody", "wrong password").await, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn a_success_clears_the_count_and_untrusted_forwarding_headers_are_ignored() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    app.user("ada").await;
    // No trusted proxy: the header is ignored and every request counts for 127.0.0.1.
    for _ in 0..2 {
        expect(login_from(&app, &random_address(), "ada", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    }
    expect(login_from(&app, &random_address(), "ada", PASSWORD).await, StatusCode::OK).await;
    for _ in 0..2 {
        expect(login_from(&app, &random_address(), "ada", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    }
    expect(login_from(&app, &random_address(), "ada", PASSWORD).await, StatusCode::OK).await;
    for _ in 0..3 {
        expect(login_from(&app, &random_address(), "ada", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    }
    expect(login_from(&app, &random_address(), "ada", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS).await;
}

#[tokio::test]
async fn instances_sharing_redis_share_the_count() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "127.0.0.1"), ("REDIS_URL", REDIS)]).await;
    app.user("ada").await;
    let second = app.second_instance().await;
    let attacker = random_address();
    for i in 0..5 {
        let request = if i % 2 == 0 {
            app.request(reqwest::Method::POST, "/api/auth/login")
        } else {
            app.client.post(format!("{second}/api/auth/login"))
        };
        let response = request
            .header("X-Forwarded-For", &attacker)
            .form(&[("username", "ada"), ("password", "wrong password")])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let locked = app
        .client
        .post(format!("{second}/api/auth/login"))
        .header("X-Forwarded-For", &attacker)
        .form(&[("username", "ada"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    // Every attempt was also counted in flight while it ran: none is left so.
    let mut redis =
        deadpool_redis::redis::Client::open(REDIS).unwrap().get_multiplexed_async_connection().await.unwrap();
    let left: Vec<String> = deadpool_redis::redis::cmd("KEYS")
        .arg(format!("*:{attacker}:in-flight"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(left, Vec::<String>::new());
}

#[tokio::test]
async fn a_peer_inside_a_trusted_range_names_the_client() {
    let app =
        spawn_app_with(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.0/8, fd00::/8"), ("LOGIN_MAX_FAILURES", "3")]).await;
    app.user("ada").await;
    for _ in 0..3 {
        assert_eq!(status_from(&app, "203.0.113.7", "ada", "wrong password").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(status_from(&app, "203.0.113.7", "ada", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is another address: not locked out.
    assert_eq!(status_from(&app, "203.0.113.8", "ada", PASSWORD).await, StatusCode::OK);
}

#[tokio::test]
async fn a_peer_outside_every_trusted_range_is_counted_as_itself() {
    let app = spawn_app_with(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.2"), ("LOGIN_MAX_FAILURES", "3")]).await;
    app.user("ada").await;
    // 127.0.0.1 is in no range: whatever it forwards, all of it counts for 127.0.0.1.
    for client in ["203.0.113.1", "203.0.113.2", "203.0.113.3"] {
        assert_eq!(status_from(&app, client, "ada", "wrong password").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(status_from(&app, "203.0.113.4", "ada", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS);
}

/// The status of a CardDAV `PROPFIND` of the root, signed in by `sign`.
async fn dav_root(app: &TestApp, sign: impl FnOnce(RequestBuilder) -> RequestBuilder) -> StatusCode {
    let propfind = app.request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), "/dav/").header("depth", "0");
    sign(propfind).send().await.unwrap().status()
}

/// A CardDAV `PROPFIND` of the root signed in with Basic `name`/`password`.
async fn dav_sign_in(app: &TestApp, name: &str, password: &str) -> StatusCode {
    dav_root(app, |propfind| propfind.basic_auth(name, Some(password))).await
}

#[tokio::test]
async fn carddav_and_rest_failures_count_together_without_redis() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    let ada = app.user("ada").await;
    let made = app
        .send_json(reqwest::Method::POST, "/api/users/me/app-passwords", Some(&ada.token), &json!({"name": "phone"}))
        .await;
    let secret = expect(made, StatusCode::CREATED).await["password"].as_str().unwrap().to_owned();
    assert_eq!(dav_sign_in(&app, "ada", &secret).await, StatusCode::MULTI_STATUS);
    // Two wrong Basic sign-ins and one wrong REST login: three failures of one name from one
    // address, whichever door they came through.
    for _ in 0..2 {
        assert_eq!(dav_sign_in(&app, "ada", "wrong password").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.login_form("ada", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    let locked = app.login_form("ada", PASSWORD).await;
    assert_eq!(locked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(locked.headers().contains_key("retry-after"));
    assert_eq!(dav_sign_in(&app, "ada", &secret).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn a_sync_clients_parallel_sign_ins_are_all_answered() {
    // Through Redis, as deployed: twenty Basic sign-ins of one name from one address at once,
    // four times the limit of failures, none of them a failure.
    // The name is the test's own: Redis's counts are shared with every other test.
    let app = spawn_app_with(&[("REDIS_URL", REDIS)]).await;
    let name = format!("sync{}", contacts_test_support::random_hex(4));
    let user = app.user(&name).await;
    let made = app
        .send_json(reqwest::Method::POST, "/api/users/me/app-passwords", Some(&user.token), &json!({"name": "phone"}))
        .await;
    let secret = expect(made, StatusCode::CREATED).await["password"].as_str().unwrap().to_owned();

    let statuses = futures_util::future::join_all((0..20).map(|_| dav_sign_in(&app, &name, &secret))).await;

    assert!(statuses.iter().all(|status| *status == StatusCode::MULTI_STATUS), "{statuses:?}");
}

/// A CardDAV `PROPFIND` of the root with this `Authorization` header.
async fn dav_with(app: &TestApp, authorization: &str) -> StatusCode {
    dav_root(app, |propfind| propfind.header("authorization", authorization)).await
}

#[tokio::test]
async fn carddav_sign_ins_that_name_no_login_count_for_the_address() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES_PER_IP", "4")]).await;
    let ada = app.user("ada").await;
    let bearer = format!("Bearer {}", ada.token);
    assert_eq!(dav_with(&app, &bearer).await, StatusCode::MULTI_STATUS);
    // Guessed tokens and headers with nothing to check in them are failures of the address.
    for garbage in ["Bearer guessed.token.value", "Basic !!!", "Basic YWRh", "Negotiate abc"] {
        assert_eq!(dav_with(&app, garbage).await, StatusCode::UNAUTHORIZED, "{garbage}");
    }
    assert_eq!(app.login_form("ada", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS, "the address is locked");
    assert_eq!(dav_with(&app, "Bearer another.guess").await, StatusCode::TOO_MANY_REQUESTS);
    // A valid token is no guess: it still signs in. Asking for the challenge (no header) is
    // not a failure either.
    assert_eq!(dav_with(&app, &bearer).await, StatusCode::MULTI_STATUS);
    let challenge = app.request(reqwest::Method::from_bytes(b"PROPFIND").unwrap(), "/dav/").send().await.unwrap();
    assert_eq!(challenge.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn with_redis_unreachable_logins_are_throttled_in_process() {
    // The shared counter is down: each instance counts for itself, as without REDIS_URL, so an
    // outage does not open the door to password guessing.
    let app = spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:1"), ("LOGIN_MAX_FAILURES", "2")]).await;
    app.user("ada").await;
    for _ in 0..2 {
        expect(login_from(&app, "127.0.0.1", "ada", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    }
    assert_eq!(status_from(&app, "127.0.0.1", "ada", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS);
}
