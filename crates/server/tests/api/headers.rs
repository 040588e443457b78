//! Headers on every response: `nosniff`, a request id, `no-store` for `/api/auth`, no framing.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

fn is_sane_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[tokio::test]
async fn every_response_has_nosniff_and_a_sane_request_id() {
    let app = spawn_app().await;
    for (method, path) in
        [(Method::GET, "/healthz"), (Method::GET, "/nowhere"), (Method::DELETE, "/healthz"), (Method::GET, "/docs/")]
    {
        let response = app.request(method.clone(), path).send().await.unwrap();
        assert_eq!(response.headers()["x-content-type-options"], "nosniff", "{method} {path}");
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert!(is_sane_id(id), "{method} {path}: {id:?}");
    }
    let echoed = app.request(Method::GET, "/healthz").header("X-Request-Id", "client-id_1.2").send().await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-id_1.2");
    for insane in ["has space", "x".repeat(65).as_str(), "semi;colon"] {
        let replaced = app.request(Method::GET, "/healthz").header("X-Request-Id", insane).send().await.unwrap();
        let id = replaced.headers()["x-request-id"].to_str().unwrap();
        assert!(is_sane_id(id) && id != insane, "{insane:?} became {id:?}");
    }
}

#[tokio::test]
async fn auth_responses_and_tokens_are_never_cached() {
    let app = spawn_app().await;
    let registered = app.register("ada", "ada@example.org", PASSWORD).await;
    assert_eq!(registered.headers()["cache-control"], "no-store");
    app.get(&app.confirmation_path("ada@example.org").await, None).await;
    let tokens = app.login_form("ada", PASSWORD).await;
    assert_eq!(tokens.status(), StatusCode::OK);
    assert_eq!(tokens.headers()["cache-control"], "no-store");
    let refused = app.post_json("/api/auth/login", &json!({"username": "ada", "password": "wrong one"})).await;
    assert_eq!(refused.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn html_pages_cannot_be_framed() {
    let app = spawn_app().await;
    // The reset page answers 200 whatever its query holds, a repeated token included.
    for path in ["/docs/", "/reset-password?token=x", "/reset-password?token=a&token=b"] {
        let response = app.get(path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["x-frame-options"], "DENY", "{path}");
    }
}
