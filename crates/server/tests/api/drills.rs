//! Fault and concurrency drills against the real processes: races the database must settle,
//! a graceful shutdown, and PostgreSQL or Redis failing while requests keep coming.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, AsyncCommands};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use contacts_test_support::{PostgresServer, RedisServer, TestDatabase};

use crate::helpers::*;

#[tokio::test]
async fn fifty_parallel_registrations_with_one_email_create_one_account() {
    let app = spawn_app().await;
    let attempts = (0..50).map(|i| {
        let body = json!({"username": format!("racer{i}"), "email": "Race@Example.org", "password": PASSWORD});
        app.client.post(format!("{}/api/auth/register", app.address)).json(&body).send()
    });
    let statuses: Vec<StatusCode> =
        futures_join(attempts).await.into_iter().map(|r| r.expect("an answer").status()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
}

#[tokio::test]
async fn fifty_parallel_refreshes_of_one_token_yield_one_pair_and_trip_the_theft_rule() {
    let app = spawn_app().await;
    app.user("ada").await;
    let pair = body(app.login_form("ada", PASSWORD).await).await;
    let attempts = (0..50).map(|_| {
        app.client
            .post(format!("{}/api/auth/refresh", app.address))
            .json(&json!({"refresh_token": pair["refresh_token"]}))
            .send()
    });
    let responses = futures_join(attempts).await;
    let mut winners = Vec::new();
    for response in responses {
        let response = response.expect("an answer");
        match response.status() {
            StatusCode::OK => winners.push(body(response).await),
            StatusCode::UNAUTHORIZED => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one new pair");
    // The losers presented a rotated token: theft. The winner's new refresh token is dead too.
    let after = app.post_json("/api/auth/refresh", &json!({"refresh_token": winners[0]["refresh_token"]})).await;
    expect_unauthenticated(after).await;
}

/// Awaits every future concurrently on this task.
async fn futures_join<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    futures_util::future::join_all(futures).await
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_exits_cleanly() {
    let app = spawn_app().await; // for the database and a confirmed user
    app.user("ada").await;
    let ServerProcess { child: mut server, base, cwd: _cwd } = app
        .serve_binary(&[
            ("BCRYPT_COST", "12"),
            ("MAIL_COOLDOWN_SECONDS", "0"),
            ("MAIL_DAILY_LIMIT", "1000"),
            // Warnings only: the log is read once the process has exited, and a hundred mails
            // written to it would fill the pipe and block the server before that.
            ("RUST_LOG", "warn"),
        ])
        .await;
    // Mails being delivered when the signal arrives (the worker writes them to the log).
    for _ in 0..100 {
        let asked = app.client.post(format!("{base}/api/auth/request_password_reset"));
        let asked = asked.json(&serde_json::json!({"email": "ada@example.org"})).send().await.unwrap();
        assert_eq!(asked.status(), StatusCode::OK);
    }
    // Logins at cost 12 take a while: they are in flight when the signal arrives.
    let logins: Vec<_> = (0..4)
        .map(|_| {
            app.client
                .post(format!("{base}/api/auth/login"))
                .form(&[("username", "ada"), ("password", PASSWORD)])
                .send()
        })
        .collect();
    let in_flight = tokio::spawn(futures_join(logins));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed = Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
    assert!(killed.success());

    for response in in_flight.await.unwrap() {
        assert_eq!(response.expect("in-flight requests are answered").status(), StatusCode::OK);
    }
    let (status, log) = tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let status = server.wait().unwrap();
        let mut log = String::new();
        server.stderr.take().unwrap().read_to_string(&mut log).unwrap();
        server.stdout.take().unwrap().read_to_string(&mut log).unwrap();
        (status, log)
    })
    .await
    .unwrap();
    assert!(status.success(), "exit code {status:?}");
    assert!(app.client.get(format!("{base}/healthz")).send().await.is_err(), "no longer accepting connections");
    // Background work stops after the requests, before the pool closes: no warning of a
    // mail worker or maintenance task losing its connection on the way out.
    assert!(!log.contains("could not") && !log.contains("ERROR"), "{log}");
}

/// What one request of a [`Load`] got: its status (`None` if it got no answer at all), its body
/// and how long it took.
struct Outcome {
    path: &'static str,
    status: Option<StatusCode>,
    body: Value,
    elapsed: Duration,
}

/// Closed-loop load: `clients` tasks, each sending the next request as soon as the last one is
/// answered, cycling through some authenticated GETs, until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<Vec<Outcome>>>,
}

impl Load {
    fn start(app: &TestApp, token: &str, paths: &'static [&'static str], clients: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let clients = (0..clients)
            .map(|n| {
                let (client, address, token, stop) =
                    (app.client.clone(), app.address.clone(), token.to_owned(), stop.clone());
                tokio::spawn(async move {
                    let mut outcomes = Vec::new();
                    for path in paths.iter().cycle().skip(n) {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let started = Instant::now();
                        let request = client.get(format!("{address}{path}")).bearer_auth(&token);
                        let response = request.timeout(Duration::from_secs(10)).send().await;
                        let status = response.as_ref().ok().map(|r| r.status());
                        let body = match response {
                            Ok(r) => r.json().await.unwrap_or(Value::Null),
                            Err(_) => Value::Null,
                        };
                        outcomes.push(Outcome { path, status, body, elapsed: started.elapsed() });
                    }
                    outcomes
                })
            })
            .collect();
        Self { stop, clients }
    }

    /// Stops every client and returns what all of them saw.
    async fn finish(self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for client in self.clients {
            all.extend(client.await.unwrap());
        }
        all
    }
}

/// Asserts that every request got an answer within a few seconds (no hang), and returns how
/// many of each status there were.
fn tally(outcomes: &[Outcome]) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for outcome in outcomes {
        let status =
            outcome.status.unwrap_or_else(|| panic!("{}: no answer after {:?}", outcome.path, outcome.elapsed));
        assert!(outcome.elapsed < Duration::from_secs(5), "{}: took {:?}", outcome.path, outcome.elapsed);
        *counts.entry(status.as_u16()).or_default() += 1;
    }
    counts
}

/// Waits until `/readyz` reports the cache as `state`, for at most five seconds: API.md gives
/// the report that long, and one Redis call a second (a loaded CI machine can take that for a
/// first connection) would otherwise decide the test.
async fn wait_for_cache(app: &TestApp, state: &str) {
    let (started, patience) = (Instant::now(), Duration::from_secs(5));
    loop {
        let ready = expect(app.get("/readyz", None).await, StatusCode::OK).await;
        if ready["cache"] == state {
            return;
        }
        assert!(started.elapsed() < patience, "the cache is not {state} within {patience:?}: {ready}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `path` answers 200, for at most `patience`.
async fn wait_for_ok(app: &TestApp, path: &str, token: &str, patience: Duration) {
    let started = Instant::now();
    while app.get(path, Some(token)).await.status() != StatusCode::OK {
        assert!(started.elapsed() < patience, "{path} did not recover within {patience:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn redis_killed_under_load_fails_no_request_and_is_used_again_once_back() {
    let redis = RedisServer::start();
    let url = redis.url();
    let app = spawn_app_with(&[("REDIS_URL", &url), ("RATE_LIMIT_ME_PER_MINUTE", "1000000")]).await;
    let ada = app.user("ada").await;
    app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.org")).await;
    let load = Load::start(&app, &ada.token, &["/api/users/me", "/api/contacts/"], 8);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let port = redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    wait_for_cache(&app, "degraded").await;
    let redis = RedisServer::start_on(port);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outcomes = load.finish().await;

    let counts = tally(&outcomes);
    assert_eq!(counts.keys().copied().collect::<Vec<_>>(), [200], "every request succeeds: {counts:?}");
    wait_for_cache(&app, "ok").await;
    // The restarted Redis starts empty: the user is found there only if the app wrote it again.
    expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    let mut conn = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let cached: Option<String> = conn.get(format!("contacts:v2:user:{}", ada.id)).await.unwrap();
    assert!(cached.is_some(), "the cache is written again");
}

#[tokio::test]
async fn postgres_stopped_under_load_means_503s_then_recovery_without_a_restart() {
    let postgres = tokio::task::spawn_blocking(PostgresServer::start).await.unwrap();
    let app = spawn_app_on(TestDatabase::create_on(&postgres.admin_url()).await, &[]).await;
    let ada = app.user("ada").await;
    let grace = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.org")).await;
    let one = format!("/api/contacts/{}", grace["id"]);
    let load = Load::start(&app, &ada.token, &["/api/contacts/", "/api/contacts/birthdays"], 8);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let postgres = tokio::task::spawn_blocking(move || {
        postgres.stop();
        postgres
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ready = expect(app.get("/readyz", None).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(ready["database"], "unavailable");
    expect(app.get("/healthz", None).await, StatusCode::OK).await;
    let _postgres = tokio::task::spawn_blocking(move || {
        postgres.start_again();
        postgres
    })
    .await
    .unwrap();
    wait_for_ok(&app, &one, &ada.token, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let outcomes = load.finish().await;

    let counts = tally(&outcomes);
    assert!(counts.keys().all(|status| [200, 503].contains(status)), "only 200s and 503s: {counts:?}");
    assert!(counts.get(&503).is_some_and(|n| *n > 0), "the outage was seen: {counts:?}");
    for outcome in outcomes.iter().filter(|o| o.status == Some(StatusCode::SERVICE_UNAVAILABLE)) {
        assert!(outcome.body["detail"].is_string(), "FastAPI's error shape: {}", outcome.body);
    }
    assert!(outcomes.last().is_some_and(|o| o.status == Some(StatusCode::OK)), "served again after the restart");
    // No connection in the pool is left broken: twice as many concurrent requests as it holds
    // connections, then one after another, all succeed.
    let burst: Vec<_> = (0..32).map(|_| app.get(&one, Some(&ada.token))).collect();
    for response in futures_join(burst).await {
        expect(response, StatusCode::OK).await;
    }
    for _ in 0..16 {
        expect(app.get("/api/contacts/", Some(&ada.token)).await, StatusCode::OK).await;
    }
    assert_eq!(expect(app.get("/readyz", None).await, StatusCode::OK).await["database"], "ok");
}
