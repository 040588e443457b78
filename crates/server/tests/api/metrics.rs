//! Prometheus metrics on their own listener, parsed with the Prometheus client's reference
//! text-format parser.
//!
//! The `metrics` recorder is global, so the apps of this test binary share it: assertions look
//! for this test's own series and never count exactly.

use contacts_test_support::{PromSample, parse_prometheus};
use reqwest::{Method, StatusCode};

use crate::helpers::*;

async fn scrape(app: &TestApp) -> Vec<PromSample> {
    let base = app.metrics.as_ref().expect("METRICS_ADDR was set");
    let response = app.client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff", "as every response");
    assert!(!response.headers()["x-request-id"].is_empty(), "as every response");
    let text = response.text().await.unwrap();
    tokio::task::spawn_blocking(move || parse_prometheus(&text)).await.unwrap()
}

fn label<'a>(sample: &'a PromSample, name: &str) -> &'a str {
    sample.labels.get(name).map_or("", String::as_str)
}

fn named<'a>(scrape: &'a [PromSample], name: &'a str) -> impl Iterator<Item = &'a PromSample> + 'a {
    scrape.iter().filter(move |s| s.name == name)
}

/// API.md's own example of a route label.
const ROUTE: &str = "/api/contacts/{id}";

#[tokio::test]
async fn requests_are_counted_and_timed_by_route_pattern_on_the_metrics_port_only() {
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0")]).await;
    let ada = app.user("ada").await;
    let created = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.org")).await;
    let id = created["id"].as_i64().unwrap();
    expect(app.get(&format!("/api/contacts/{id}"), Some(&ada.token)).await, StatusCode::OK).await;
    expect(app.get("/api/contacts/987654321", Some(&ada.token)).await, StatusCode::NOT_FOUND).await;
    app.get("/no/such/thing-5d1e", None).await;
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::NOT_FOUND, "never on the public port");
    // Any other path of the metrics listener: a 404 with the headers every response carries, the
    // caller's own sane request id among them.
    let base = app.metrics.as_ref().unwrap();
    let other = app.client.get(format!("{base}/nothing")).header("x-request-id", "scrape-1.a_b").send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
    assert_eq!(other.headers()["x-request-id"], "scrape-1.a_b");
    assert_eq!(other.headers()["x-content-type-options"], "nosniff");

    let scrape = scrape(&app).await;
    let requests: Vec<&PromSample> = named(&scrape, "http_requests_total").collect();
    assert!(requests.iter().all(|s| s.kind == "counter"));
    let find = |route: &str, status: &str| {
        requests
            .iter()
            .find(|s| label(s, "method") == "GET" && label(s, "route") == route && label(s, "status") == status)
    };
    let ok = find(ROUTE, "200").unwrap_or_else(|| panic!("the pattern labels the route: {requests:?}"));
    assert!(ok.value >= 1.0);
    assert!(find(ROUTE, "404").is_some());
    assert!(find("unmatched", "404").is_some(), "unmatched requests share one label");
    for sample in &requests {
        let route = label(sample, "route");
        assert!(!route.contains(&id.to_string()) && !route.contains("987654321") && !route.contains("5d1e"), "{route}");
    }

    let ours = |s: &&PromSample| label(s, "route") == ROUTE && label(s, "method") == "GET";
    let buckets: Vec<&PromSample> = named(&scrape, "http_request_duration_seconds_bucket").filter(ours).collect();
    assert!(buckets.len() >= 10 && buckets.iter().all(|b| b.kind == "histogram"), "{buckets:?}");
    let count = named(&scrape, "http_request_duration_seconds_count").find(ours).expect("a _count").value;
    let sum = named(&scrape, "http_request_duration_seconds_sum").find(ours).expect("a _sum").value;
    assert!(count >= 2.0 && sum > 0.0, "{count} {sum}");
    let infinite = buckets.iter().find(|b| label(b, "le") == "+Inf").expect("a +Inf bucket");
    assert_eq!(infinite.value, count);
    assert!(buckets.windows(2).all(|w| w[0].value <= w[1].value), "cumulative buckets");

    let pool: Vec<(&str, f64)> = named(&scrape, "db_pool_connections").map(|s| (label(s, "state"), s.value)).collect();
    assert!(pool.contains(&("max", 16.0)), "{pool:?}");
    assert!(pool.iter().any(|(state, _)| *state == "idle") && pool.iter().any(|(state, _)| *state == "in_use"));

    let cache: Vec<&str> = named(&scrape, "user_cache_requests_total").map(|s| label(s, "result")).collect();
    for result in ["hit", "miss", "error"] {
        assert!(cache.contains(&result), "{cache:?}");
    }
    assert!(
        named(&scrape, "mails_total")
            .any(|s| label(s, "kind") == "confirmation" && label(s, "result") == "sent" && s.value >= 1.0),
        "the confirmation mail was counted"
    );
    for name in ["mail_outbox_pending", "login_throttled_total"] {
        assert!(named(&scrape, name).next().is_some(), "{name} is exported from the start");
    }
    assert!(scrape.iter().all(|s| !s.help.is_empty()), "every metric is described");
}

#[tokio::test]
async fn without_metrics_addr_there_is_no_metrics_listener() {
    let app = spawn_app().await;
    assert!(app.metrics.is_none());
    assert_eq!(app.get("/metrics", None).await.status(), StatusCode::NOT_FOUND);
}

fn value(scrape: &[PromSample], name: &str, label_name: &str, label_value: &str) -> f64 {
    named(scrape, name).filter(|s| label(s, label_name) == label_value || label_name.is_empty()).map(|s| s.value).sum()
}

#[tokio::test]
async fn throttled_logins_and_dav_requests_are_counted() {
    let app = spawn_app_with(&[("METRICS_ADDR", "127.0.0.1:0"), ("LOGIN_MAX_FAILURES", "1")]).await;
    app.user("ada").await;
    let before = scrape(&app).await;
    let login = || {
        app.client
            .post(format!("{}/api/auth/login", app.address))
            .form(&[("username", "ada"), ("password", "wrong horse")])
            .send()
    };
    assert_eq!(login().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(login().await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    app.get("/.well-known/carddav", None).await;
    // A CardDAV request is labelled with its resource's pattern, not lumped in with 404s.
    let propfind = Method::from_bytes(b"PROPFIND").unwrap();
    app.request(propfind, "/dav/addressbooks/ada/contacts/").header("depth", "0").send().await.unwrap();
    // Methods nobody defined, which anyone may send: counted, under one label for them all.
    for (method, path) in [("XYZZY-7F3", "/dav/addressbooks/ada/contacts/"), ("QQQ-7F3", "/api/contacts/")] {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let answer = app.request(method, path).send().await.unwrap();
        assert!(answer.status().is_client_error(), "{}", answer.status());
    }

    let after = scrape(&app).await;
    assert!(after.iter().all(|s| !label(s, "method").contains("7F3")), "no series of an invented method");
    let others = |s: &[PromSample]| value(s, "dav_requests_total", "method", "other");
    assert!(others(&after) >= others(&before) + 1.0, "{} then {}", others(&before), others(&after));
    assert!(
        named(&after, "http_requests_total")
            .any(|s| label(s, "method") == "other" && label(s, "route") == "/api/contacts"),
        "the REST request under `other`"
    );
    // (Other tests of this process send CardDAV requests too: their series are here as well.)
    let dav_routes: Vec<&str> = named(&after, "http_requests_total")
        .filter(|s| label(s, "method") == "PROPFIND")
        .map(|s| label(s, "route"))
        .collect();
    assert!(dav_routes.contains(&"/dav/addressbooks/{username}/{book}/"), "{dav_routes:?}");
    assert!(dav_routes.iter().all(|route| !route.contains("ada") && !route.contains("contacts")), "{dav_routes:?}");
    let throttled = |s: &[PromSample]| value(s, "login_throttled_total", "", "");
    assert!(throttled(&after) >= throttled(&before) + 1.0, "{} then {}", throttled(&before), throttled(&after));
    let dav_gets = |s: &[PromSample]| value(s, "dav_requests_total", "method", "GET");
    assert!(dav_gets(&after) >= dav_gets(&before) + 1.0);
}

/// The outbox gauge and failed sends, seen in a process of their own (the gauge is one value
/// per process, and this test's apps would overwrite each other's).
#[tokio::test]
async fn mails_waiting_for_a_mail_server_that_is_down_show_in_the_outbox_gauge() {
    let app = spawn_app().await;
    // A database of its own: the in-process app's delivery worker must not send the mail.
    let db = contacts_test_support::TestDatabase::create().await;
    let metrics_port = contacts_test_support::unused_port().to_string();
    let smtp_port = contacts_test_support::unused_port().to_string();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let server = app
        .serve_binary(&[
            ("DATABASE_URL", db.url()),
            ("METRICS_ADDR", metrics_addr.as_str()),
            ("SMTP_HOST", "127.0.0.1"),
            ("SMTP_PORT", smtp_port.as_str()),
            ("SMTP_TLS", "none"),
            ("MAIL_FROM", "Contacts <noreply@contacts.test>"),
            ("BCRYPT_COST", "4"),
        ])
        .await;
    for name in ["ada", "bob"] {
        let body = serde_json::json!({"username": name, "email": format!("{name}@example.org"), "password": PASSWORD});
        let registered =
            app.client.post(format!("{}/api/auth/register", server.base)).json(&body).send().await.unwrap();
        assert_eq!(registered.status(), StatusCode::CREATED);
    }

    let mut seen = (0.0, 0.0);
    for _ in 0..150 {
        let text = app.client.get(format!("http://{metrics_addr}/metrics")).send().await.unwrap().text().await.unwrap();
        let samples = tokio::task::spawn_blocking(move || parse_prometheus(&text)).await.unwrap();
        seen = (value(&samples, "mail_outbox_pending", "", ""), {
            named(&samples, "mails_total")
                .filter(|s| label(s, "kind") == "confirmation" && label(s, "result") == "failed")
                .map(|s| s.value)
                .sum()
        });
        if seen.0 == 2.0 && seen.1 >= 2.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(seen.0, 2.0, "two mails wait in the outbox");
    assert!(seen.1 >= 2.0, "the failed attempts were counted: {seen:?}");
    server.stop_and_read_output().await;
}
