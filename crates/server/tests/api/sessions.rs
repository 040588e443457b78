//! Sessions that can be ended: refresh-token rotation and theft detection, logout, and
//! password reset ending every session.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn tokens(app: &TestApp) -> Value {
    expect(app.login_form("ada", PASSWORD).await, StatusCode::OK).await
}

async fn refresh(app: &TestApp, token: &Value) -> reqwest::Response {
    app.post_json("/api/auth/refresh", &json!({"refresh_token": token})).await
}

#[tokio::test]
async fn refresh_rotates_and_a_replayed_token_ends_the_whole_session_family() {
    let app = spawn_app().await;
    app.user("ada").await;
    let first = tokens(&app).await;

    let second = expect(refresh(&app, &first["refresh_token"]).await, StatusCode::OK).await;
    assert_eq!(second["token_type"], "bearer");
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    expect(app.get("/api/users/me", second["access_token"].as_str()).await, StatusCode::OK).await;
    let third = expect(refresh(&app, &second["refresh_token"]).await, StatusCode::OK).await;

    // Replaying the first token is theft: refused, and the newest token dies with it.
    expect_unauthenticated(refresh(&app, &first["refresh_token"]).await).await;
    expect_unauthenticated(refresh(&app, &third["refresh_token"]).await).await;
    // Logging in again starts a new, working session.
    let fresh = tokens(&app).await;
    expect(refresh(&app, &fresh["refresh_token"]).await, StatusCode::OK).await;
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = spawn_app().await;
    app.user("ada").await;
    let pair = tokens(&app).await;
    let other = tokens(&app).await;
    let out = app.post_json("/api/auth/logout", &json!({"refresh_token": pair["refresh_token"]})).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    expect_unauthenticated(refresh(&app, &pair["refresh_token"]).await).await;
    expect_unauthenticated(app.post_json("/api/auth/logout", &json!({"refresh_token": pair["refresh_token"]})).await)
        .await;
    // Another device's session is its own, even after the ended one was presented again (a
    // retried logout, a refresh already on its way): that is no theft.
    expect(app.get("/api/contacts/", other["access_token"].as_str()).await, StatusCode::OK).await;
    let next = expect(refresh(&app, &other["refresh_token"]).await, StatusCode::OK).await;
    expect(app.get("/api/contacts/", next["access_token"].as_str()).await, StatusCode::OK).await;
}

#[tokio::test]
async fn only_refresh_tokens_refresh() {
    let app = spawn_app().await;
    let user = app.user("ada").await;
    let confirmation = app.confirmation_path("ada@example.org").await.rsplit('/').next().unwrap().to_owned();
    app.post_json("/api/auth/request_password_reset", &json!({"email": "ada@example.org"})).await;
    let reset = reset_token(&app, "ada@example.org").await;
    for token in [user.token.as_str(), reset.as_str(), confirmation.as_str(), "garbage"] {
        expect_unauthenticated(refresh(&app, &json!(token)).await).await;
        expect_unauthenticated(app.post_json("/api/auth/logout", &json!({"refresh_token": token})).await).await;
    }
    expect_invalid(app.post_json("/api/auth/refresh", &json!({})).await, &["body", "refresh_token"]).await;
    expect_invalid(app.post_json("/api/auth/logout", &json!({})).await, &["body", "refresh_token"]).await;
}

#[tokio::test]
async fn a_refresh_token_expires_after_its_lifetime() {
    let app = spawn_app_with(&[("REFRESH_TOKEN_TTL_SECONDS", "1")]).await;
    app.user("ada").await;
    let pair = tokens(&app).await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    expect_unauthenticated(refresh(&app, &pair["refresh_token"]).await).await;
}

/// The token of the latest reset link mailed to `email`.
async fn reset_token(app: &TestApp, email: &str) -> String {
    let prefix = format!("{BASE_URL}/reset-password?token=");
    let mail = app.mail.wait_for_line(email, &prefix).await;
    let link = mail.line_starting_with(&prefix).expect("a reset link on a line of its own");
    link.strip_prefix(&prefix).unwrap().to_owned()
}

#[tokio::test]
async fn a_password_reset_works_once_and_ends_every_session_at_once() {
    let app = spawn_app().await;
    let user = app.user("ada").await;
    let session = tokens(&app).await;
    app.mail.wait_for("ada@example.org").await; // the confirmation mail
    let before = app.mail.mails().len();

    let asked = app
        .request(Method::POST, "/api/auth/request_password_reset")
        .header("Host", "evil.example")
        .json(&json!({"email": "ADA@example.org"}))
        .send()
        .await
        .unwrap();
    expect(asked, StatusCode::OK).await;
    app.mail.wait_for_count("ada@example.org", 2).await;
    assert_eq!(app.mail.mails().len(), before + 1);
    let mail = app.mail.mails().pop().unwrap();
    assert!(!mail.data.contains("evil.example"));
    assert!(mail.html().contains("/reset-password?token="));
    let token = reset_token(&app, "ada@example.org").await;

    let new_password = "a brand new password";
    let reset = app.post_json("/api/auth/reset_password", &json!({"token": token, "new_password": new_password})).await;
    assert_eq!(expect(reset, StatusCode::OK).await, json!({"message": "Password has been reset"}));

    // Every earlier token is dead at once, not at its expiry.
    expect_unauthenticated(app.get("/api/users/me", Some(&user.token)).await).await;
    expect_unauthenticated(app.get("/api/contacts/", session["access_token"].as_str()).await).await;
    expect_unauthenticated(refresh(&app, &session["refresh_token"]).await).await;
    // The old password is gone; the new one works right away, even within the same second.
    expect(app.login_form("ada", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    let fresh = expect(app.login_form("ada", new_password).await, StatusCode::OK).await;
    expect(app.get("/api/users/me", fresh["access_token"].as_str()).await, StatusCode::OK).await;
    // An old device refreshing afterwards is refused without ending the new session.
    expect_unauthenticated(refresh(&app, &session["refresh_token"]).await).await;
    expect(app.get("/api/contacts/", fresh["access_token"].as_str()).await, StatusCode::OK).await;
    expect(refresh(&app, &fresh["refresh_token"]).await, StatusCode::OK).await;

    // The link works once.
    let again =
        app.post_json("/api/auth/reset_password", &json!({"token": token, "new_password": "yet another one"})).await;
    assert_eq!(expect(again, StatusCode::BAD_REQUEST).await, json!({"detail": "Invalid or expired token"}));
    expect(app.login_form("ada", new_password).await, StatusCode::OK).await;
}

#[tokio::test]
async fn reset_requests_answer_the_same_whether_or_not_the_account_exists() {
    let app = spawn_app().await;
    app.user("ada").await;
    let before = app.mail.mails().len();
    let unknown = expect(
        app.post_json("/api/auth/request_password_reset", &json!({"email": "nobody@example.org"})).await,
        StatusCode::OK,
    )
    .await;
    let known = expect(
        app.post_json("/api/auth/request_password_reset", &json!({"email": "ada@example.org"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unknown, known);
    // Mails go out in the order they were queued: once the reset mail is here, one for the
    // unknown address would have arrived before it.
    app.mail.wait_for_count("ada@example.org", 2).await;
    assert_eq!(app.mail.mails().len(), before + 1, "no mail for an unknown address");
    expect_invalid(app.post_json("/api/auth/request_password_reset", &json!({"email": "x"})).await, &["body", "email"])
        .await;
}

#[tokio::test]
async fn other_kinds_of_token_and_expired_ones_cannot_reset_a_password() {
    let app = spawn_app_with(&[("RESET_TOKEN_TTL_SECONDS", "1")]).await;
    app.register("ada", "ada@example.org", PASSWORD).await;
    let confirmation = app.confirmation_path("ada@example.org").await.rsplit('/').next().unwrap().to_owned();
    app.get(&format!("/api/auth/confirmed_email/{confirmation}"), None).await;
    let pair = tokens(&app).await;
    for token in
        [confirmation.as_str(), pair["access_token"].as_str().unwrap(), pair["refresh_token"].as_str().unwrap(), "x"]
    {
        let response =
            app.post_json("/api/auth/reset_password", &json!({"token": token, "new_password": "whatever123"})).await;
        expect(response, StatusCode::BAD_REQUEST).await;
    }
    app.post_json("/api/auth/request_password_reset", &json!({"email": "ada@example.org"})).await;
    let token = reset_token(&app, "ada@example.org").await;
    // A reset token is not an access or confirmation token either.
    expect_unauthenticated(app.get("/api/users/me", Some(&token)).await).await;
    expect(app.get(&format!("/api/auth/confirmed_email/{token}"), None).await, StatusCode::BAD_REQUEST).await;
    expect_invalid(
        app.post_json("/api/auth/reset_password", &json!({"token": token, "new_password": "short"})).await,
        &["body", "new_password"],
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let expired =
        app.post_json("/api/auth/reset_password", &json!({"token": token, "new_password": "whatever123"})).await;
    expect(expired, StatusCode::BAD_REQUEST).await;
    expect(app.login_form("ada", PASSWORD).await, StatusCode::OK).await;
}

#[tokio::test]
async fn the_reset_page_is_self_contained_and_escapes_the_token() {
    let app = spawn_app().await;
    let page = "/reset-password?token=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let response = app.get(page, None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let html = response.text().await.unwrap();
    assert!(!html.contains("<script"), "the token is escaped");
    assert!(html.contains("&quot;&gt;&lt;script&gt;"));
    assert!(!html.contains("src=") && !html.contains("<link"), "no external assets");
    assert_eq!(form_target(page, &html), "/reset-password");
    assert!(html.contains("name=\"new_password\""));
    expect_status(app.get("/reset-password", None).await, StatusCode::OK).await;
}

async fn expect_status(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    response.text().await.unwrap()
}

#[tokio::test]
async fn the_reset_page_form_applies_the_same_rules() {
    let app = spawn_app().await;
    app.user("ada").await;
    app.post_json("/api/auth/request_password_reset", &json!({"email": "ada@example.org"})).await;
    let token = reset_token(&app, "ada@example.org").await;
    let post = |password: &'static str, token: String| {
        app.request(Method::POST, "/reset-password")
            .form(&[("token", token), ("new_password", password.to_owned())])
            .send()
    };
    let short = expect_status(post("short", token.clone()).await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(short.contains("at least 8 bytes") && short.contains("<form"), "{short}");
    let done = expect_status(post("from the form 123", token.clone()).await.unwrap(), StatusCode::OK).await;
    assert!(done.contains("Password changed"));
    let reused = expect_status(post("another password", token).await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert!(reused.contains("invalid, expired or already used"));
    expect(app.login_form("ada", "from the form 123").await, StatusCode::OK).await;
}

async fn me(app: &TestApp, pair: &Value) -> reqwest::Response {
    app.get("/api/users/me", pair["access_token"].as_str()).await
}

#[tokio::test]
async fn logout_ends_the_access_tokens_of_its_session_at_once_and_only_those() {
    let app = spawn_app().await;
    app.user("ada").await;
    let login = tokens(&app).await;
    let refreshed = expect(refresh(&app, &login["refresh_token"]).await, StatusCode::OK).await;
    let other = tokens(&app).await;
    // Warm: the user is in the cache, so a stale cached copy would let the tokens through.
    expect(me(&app, &login).await, StatusCode::OK).await;
    expect(app.get("/api/contacts/", refreshed["access_token"].as_str()).await, StatusCode::OK).await;

    let out = app.post_json("/api/auth/logout", &json!({"refresh_token": refreshed["refresh_token"]})).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);

    // The login's and the refresh's access tokens of that session: refused from now on.
    expect_unauthenticated(app.get("/api/contacts/", login["access_token"].as_str()).await).await;
    expect_unauthenticated(app.get("/api/contacts/", refreshed["access_token"].as_str()).await).await;
    // Another session goes on, and can refresh and log out on its own.
    expect(app.get("/api/contacts/", other["access_token"].as_str()).await, StatusCode::OK).await;
    let other_next = expect(refresh(&app, &other["refresh_token"]).await, StatusCode::OK).await;
    expect(app.get("/api/contacts/", other_next["access_token"].as_str()).await, StatusCode::OK).await;
    let out = app.post_json("/api/auth/logout", &json!({"refresh_token": other_next["refresh_token"]})).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    expect_unauthenticated(app.get("/api/contacts/", other_next["access_token"].as_str()).await).await;
    // A new login works.
    let fresh = tokens(&app).await;
    expect(app.get("/api/contacts/", fresh["access_token"].as_str()).await, StatusCode::OK).await;
}

#[tokio::test]
async fn theft_detection_ends_every_access_token_of_the_user_at_once() {
    let app = spawn_app().await;
    app.user("ada").await;
    let bob = app.user("bob").await;
    let first = tokens(&app).await;
    let second = expect(refresh(&app, &first["refresh_token"]).await, StatusCode::OK).await;
    let other = tokens(&app).await;
    for pair in [&first, &second, &other] {
        expect(app.get("/api/contacts/", pair["access_token"].as_str()).await, StatusCode::OK).await;
    }

    // The first refresh token again: theft.
    expect_unauthenticated(refresh(&app, &first["refresh_token"]).await).await;

    for pair in [&first, &second, &other] {
        expect_unauthenticated(app.get("/api/contacts/", pair["access_token"].as_str()).await).await;
    }
    expect_unauthenticated(refresh(&app, &other["refresh_token"]).await).await;
    // Another user is untouched; the owner can log in again.
    expect(app.get("/api/contacts/", Some(&bob.token)).await, StatusCode::OK).await;
    let fresh = tokens(&app).await;
    expect(app.get("/api/contacts/", fresh["access_token"].as_str()).await, StatusCode::OK).await;
}
