//! Credentials an attacker would try: look-alike usernames, weak passwords on every route that
//! sets one, and reset links that outlive a reset.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// These tests mail one address several times in a row.
const NO_MAIL_COOLDOWN: &[(&str, &str)] = &[("MAIL_COOLDOWN_SECONDS", "0")];

/// Asks for a reset link for `email` and returns its token, once the mail is in.
async fn new_reset_token(app: &TestApp, email: &str) -> String {
    let before = app.mail.mails_to(email).len();
    expect(app.post_json("/api/auth/request_password_reset", &json!({"email": email})).await, StatusCode::OK).await;
    for _ in 0..200 {
        if let Some(mail) = app.mail.mails_to(email).get(before) {
            let prefix = format!("{BASE_URL}/reset-password?token=");
            let link = mail.line_starting_with(&prefix).expect("a reset link on a line of its own");
            return link.strip_prefix(&prefix).unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no reset mail for {email}");
}

#[tokio::test]
async fn a_username_with_a_look_alike_letter_from_another_script_is_refused() {
    let app = spawn_app().await;
    expect(app.register("admin", "admin@example.org", PASSWORD).await, StatusCode::CREATED).await;
    // "\u{430}dmin" starts with a Cyrillic а: it looks like "admin" but was a second account.
    expect_invalid(app.register("\u{430}dmin", "other@example.org", PASSWORD).await, &["body", "username"]).await;
    expect_invalid(app.register("zoë", "zoe@example.org", PASSWORD).await, &["body", "username"]).await;
}

#[tokio::test]
async fn weak_passwords_are_refused_at_registration() {
    let app = spawn_app().await;
    let nuls = "\0".repeat(8);
    for password in ["password", "PassWord1", "qwertyuiop", "aaaaaaaa", nuls.as_str(), "tab\there!", "Ada_Lovelace"] {
        let response = app.register("Ada_Lovelace", "countess@example.org", password).await;
        expect_invalid(response, &["body", "password"]).await;
    }
    // The address and its local part, ignoring case.
    for password in ["COUNTESS1815@example.org", "Countess1815"] {
        let response = app.register("ada", "countess1815@example.org", password).await;
        expect_invalid(response, &["body", "password"]).await;
    }
    // Nothing was created: the name is still free.
    expect(app.register("Ada_Lovelace", "countess@example.org", PASSWORD).await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn weak_new_passwords_are_refused_on_both_reset_routes_and_the_link_still_works() {
    let app = spawn_app_with(NO_MAIL_COOLDOWN).await;
    app.user("ada").await; // ada <ada@example.org>
    let token = new_reset_token(&app, "ada@example.org").await;

    for password in ["password1", "zzzzzzzzzz", "ADA@EXAMPLE.ORG", "\0\0\0\0\0\0\0\0"] {
        let json = app.post_json("/api/auth/reset_password", &json!({"token": token, "new_password": password})).await;
        expect_invalid(json, &["body", "new_password"]).await;
        let form = app
            .request(Method::POST, "/reset-password")
            .form(&[("token", token.as_str()), ("new_password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(form.status(), StatusCode::UNPROCESSABLE_ENTITY, "{password:?}");
        assert!(form.text().await.unwrap().contains("<form"), "the form again, to try another password");
    }
    // A refused password did not spend the link.
    let reset =
        app.post_json("/api/auth/reset_password", &json!({"token": token, "new_password": "a brand new one"})).await;
    expect(reset, StatusCode::OK).await;
    expect(app.login_form("ada", "a brand new one").await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_successful_reset_ends_every_other_reset_token_of_the_user() {
    let app = spawn_app_with(NO_MAIL_COOLDOWN).await;
    app.user("ada").await;
    app.user("bob").await;
    let older = new_reset_token(&app, "ada@example.org").await;
    let newer = new_reset_token(&app, "ada@example.org").await;
    let bobs = new_reset_token(&app, "bob@example.org").await;
    assert_ne!(older, newer);

    let reset = json!({"token": newer, "new_password": "a brand new one"});
    expect(app.post_json("/api/auth/reset_password", &reset).await, StatusCode::OK).await;

    let replay = json!({"token": older, "new_password": "someone else's"});
    let replayed = app.post_json("/api/auth/reset_password", &replay).await;
    assert_eq!(expect(replayed, StatusCode::BAD_REQUEST).await, json!({"detail": "Invalid or expired token"}));
    expect(app.login_form("ada", "a brand new one").await, StatusCode::OK).await;
    // Another user's link is not touched.
    let other = json!({"token": bobs, "new_password": "bob's new one"});
    expect(app.post_json("/api/auth/reset_password", &other).await, StatusCode::OK).await;
}
