//! Fault and concurrency drills against the real processes: races the database must settle,
//! and a graceful shutdown.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

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
    let ServerProcess { child: mut server, base } = app.serve_binary(&[("BCRYPT_COST", "12")]).await;
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
    let status = tokio::task::spawn_blocking(move || server.wait()).await.unwrap().unwrap();
    assert!(status.success(), "exit code {status:?}");
    assert!(app.client.get(format!("{base}/healthz")).send().await.is_err(), "no longer accepting connections");
}
