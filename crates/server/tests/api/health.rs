//! Health probes, and what every route does when PostgreSQL goes away.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn probes_are_healthy_with_a_database() {
    let app = spawn_app().await;
    assert_eq!(
        expect(app.get("/api/healthchecker", None).await, StatusCode::OK).await,
        json!({"message": "API is healthy"})
    );
    expect(app.get("/healthz", None).await, StatusCode::OK).await;
    assert_eq!(
        expect(app.get("/readyz", None).await, StatusCode::OK).await,
        json!({"database": "ok", "cache": "ok", "avatars": "ok"})
    );
    for probe in ["/healthz", "/readyz"] {
        let head = app.request(reqwest::Method::HEAD, probe).send().await.unwrap();
        assert_eq!(head.status(), StatusCode::OK, "HEAD {probe}, as load balancers may ask");
        assert!(head.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn without_the_database_routes_answer_503_quickly_and_liveness_stays_up() {
    let app = spawn_app().await;
    let ada = app.user("ada").await;
    app.db.destroy().await;

    for path in ["/api/healthchecker", "/readyz", "/api/contacts/", "/api/users/me"] {
        let started = Instant::now();
        let response = app.get(path, Some(&ada.token)).await;
        assert!(started.elapsed() < Duration::from_secs(5), "{path} took {:?}", started.elapsed());
        let body = expect(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(body["detail"].is_string(), "{path}: {body}");
    }
    let login = app.login_form("ada", PASSWORD).await;
    expect(login, StatusCode::SERVICE_UNAVAILABLE).await;
    // The mail requests answer before their work, but not when that work cannot be done.
    for path in ["/api/auth/request_password_reset", "/api/auth/request_email"] {
        let asked = app.post_json(path, &json!({"email": "ada@example.org"})).await;
        let body = expect(asked, StatusCode::SERVICE_UNAVAILABLE).await;
        assert!(body["detail"].is_string(), "{path}: {body}");
    }
    let ready = body(app.get("/readyz", None).await).await;
    assert_eq!(ready["database"], "unavailable");
    let head = app.request(reqwest::Method::HEAD, "/readyz").send().await.unwrap();
    assert_eq!(head.status(), StatusCode::SERVICE_UNAVAILABLE);
    expect(app.get("/healthz", None).await, StatusCode::OK).await;
}
