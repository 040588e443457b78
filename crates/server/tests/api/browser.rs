//! The password-reset page in a real headless Chromium: what a person does with the mail.

use reqwest::StatusCode;
use serde_json::json;

use contacts_test_support::Browser;

use crate::helpers::*;

#[tokio::test]
async fn a_person_resets_their_password_in_a_browser() {
    if Browser::missing_here() {
        return;
    }
    let app = spawn_app().await;
    app.user("ada").await;
    app.post_json("/api/auth/request_password_reset", &json!({"email": "ada@example.org"})).await;
    let prefix = format!("{BASE_URL}/reset-password?token=");
    let mail = app.mail.wait_for_line("ada@example.org", &prefix).await;
    let link = mail.line_starting_with(&prefix).expect("a reset link");
    // The mail's link points at APP_BASE_URL; the browser opens the same path on the test server.
    let url = link.replacen(BASE_URL, &app.address, 1);

    let browser = Browser::start().await;
    browser.goto(&url).await;
    browser.wait_for_text("Choose a new password").await;
    // 8 bytes in 4 characters: the server takes it, so the form must let a browser send it
    // (a `minlength` counts characters, not bytes).
    browser.type_into("#new_password", "äöüß").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_text("Your password has been reset").await;
    browser.quit().await;

    expect(app.login_form("ada", "äöüß").await, StatusCode::OK).await;
    expect(app.login_form("ada", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
}
