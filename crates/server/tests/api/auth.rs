//! `/api/auth`: registration, confirmation, login and token checks.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn register_creates_an_unconfirmed_user_and_ignores_a_role_field() {
    let app = spawn_app().await;
    let response = app
        .post_json(
            "/api/auth/register",
            &json!({"username": "Ada.L", "email": "Ada@Example.org", "password": PASSWORD, "role": "admin"}),
        )
        .await;
    let user = expect(response, StatusCode::CREATED).await;
    let keys: Vec<&str> = user.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 7, "exactly the User fields: {keys:?}");
    assert_eq!(user["username"], "Ada.L");
    assert_eq!(user["email"], "Ada@Example.org");
    assert_eq!(user["role"], "user");
    assert_eq!(user["confirmed"], false);
    assert!(user["id"].is_i64());
    assert!(user["avatar"].as_str().unwrap().starts_with("https://www.gravatar.com/avatar/"));
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(!user.to_string().contains("$2b$"), "no password hash");
}

#[tokio::test]
async fn signup_is_an_alias_of_register() {
    let app = spawn_app().await;
    let response = app
        .post_json("/api/auth/signup", &json!({"username": "ada", "email": "ada@example.org", "password": PASSWORD}))
        .await;
    expect(response, StatusCode::CREATED).await;
}

#[tokio::test]
async fn the_confirmation_mail_links_to_app_base_url_whatever_the_host_header() {
    let app = spawn_app().await;
    let response = app
        .request(Method::POST, "/api/auth/register")
        .header("Host", "evil.example")
        .header("X-Forwarded-Host", "evil.example")
        .json(&json!({"username": "ada", "email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    expect(response, StatusCode::CREATED).await;
    let mail = app.mail.wait_for("ada@example.org").await;
    assert!(!mail.data.contains("evil.example"));
    let link = mail.line_starting_with(&format!("{BASE_URL}/api/auth/confirmed_email/")).expect("link on its own line");
    let token = link.rsplit('/').next().unwrap();
    assert!(token.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)), "URL-safe token");
    assert!(mail.html().contains(&link), "the HTML part links too");
}

#[tokio::test]
async fn emails_and_usernames_are_unique_regardless_of_case() {
    let app = spawn_app().await;
    expect(app.register("ada", "ada@example.org", PASSWORD).await, StatusCode::CREATED).await;
    let same_email = expect(app.register("other", "ADA@example.ORG", PASSWORD).await, StatusCode::CONFLICT).await;
    assert_eq!(same_email, json!({"detail": "An account with this email already exists"}));
    let same_name = expect(app.register("ADA", "other@example.org", PASSWORD).await, StatusCode::CONFLICT).await;
    assert_eq!(same_name, json!({"detail": "An account with this username already exists"}));
}

#[tokio::test]
async fn registration_input_is_validated_field_by_field() {
    let app = spawn_app().await;
    let long_password = "p".repeat(73);
    let cases: [(&str, &str, &str, &str); 6] = [
        ("ab", "ada@example.org", PASSWORD, "username"),
        ("has space", "ada@example.org", PASSWORD, "username"),
        ("ada", "not-an-email", PASSWORD, "email"),
        ("ada", "ada@localhost", PASSWORD, "email"),
        ("ada", "ada@example.org", "short", "password"),
        ("ada", "ada@example.org", &long_password, "password"),
    ];
    for (username, email, password, field) in cases {
        expect_invalid(app.register(username, email, password).await, &["body", field]).await;
    }
    expect_invalid(app.post_json("/api/auth/register", &json!({"email": "a@b.co"})).await, &["body", "username"]).await;
    // A 72-byte password is fine: the limit is bcrypt's, not lower.
    expect(app.register("ada", "ada@example.org", &"pq".repeat(36)).await, StatusCode::CREATED).await;
}

#[tokio::test]
async fn login_is_refused_until_the_email_is_confirmed_and_only_after_a_correct_password() {
    let app = spawn_app().await;
    app.register("ada", "ada@example.org", PASSWORD).await;

    let wrong = expect(app.login_form("ada", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    let unknown = expect(app.login_form("nobody", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(wrong, unknown, "the same answer whether or not the account exists");
    assert_eq!(wrong, json!({"detail": "Incorrect username or password"}));

    let unconfirmed = expect(app.login_form("ada", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(unconfirmed, json!({"detail": "Email not confirmed"}));

    let confirm = app.get(&app.confirmation_path("ada@example.org").await, None).await;
    assert_eq!(expect(confirm, StatusCode::OK).await, json!({"message": "Email confirmed"}));
    expect(app.login_form("ada", PASSWORD).await, StatusCode::OK).await;
}

#[tokio::test]
async fn a_confirmation_link_works_once_then_says_already_confirmed() {
    let app = spawn_app().await;
    app.register("ada", "ada@example.org", PASSWORD).await;
    let path = app.confirmation_path("ada@example.org").await;
    expect(app.get(&path, None).await, StatusCode::OK).await;
    let again = expect(app.get(&path, None).await, StatusCode::OK).await;
    assert_eq!(again, json!({"message": "Your email is already confirmed"}));
}

#[tokio::test]
async fn bad_and_wrong_kind_confirmation_tokens_are_a_verification_error() {
    let app = spawn_app().await;
    let user = app.user("ada").await;
    let login = body(app.login_form("ada", PASSWORD).await).await;
    for token in ["garbage", user.token.as_str(), login["refresh_token"].as_str().unwrap()] {
        let response = app.get(&format!("/api/auth/confirmed_email/{token}"), None).await;
        assert_eq!(expect(response, StatusCode::BAD_REQUEST).await, json!({"detail": "Verification error"}));
    }
}

#[tokio::test]
async fn an_expired_confirmation_link_is_refused() {
    let app = spawn_app_with(&[("EMAIL_TOKEN_TTL_SECONDS", "1")]).await;
    app.register("ada", "ada@example.org", PASSWORD).await;
    let path = app.confirmation_path("ada@example.org").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    expect(app.get(&path, None).await, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn login_accepts_the_oauth2_form_and_json_with_username_or_email() {
    let app = spawn_app().await;
    app.user("ada").await;
    let by_form_email = expect(app.login_form("ADA@example.org", PASSWORD).await, StatusCode::OK).await;
    assert_eq!(by_form_email["token_type"], "bearer");
    assert_eq!(by_form_email["expires_in"], 900);
    assert!(by_form_email["access_token"].is_string() && by_form_email["refresh_token"].is_string());
    assert_ne!(by_form_email["access_token"], by_form_email["refresh_token"]);

    for credentials in [
        json!({"username": "ada", "password": PASSWORD}),
        json!({"username": "ada@example.org", "password": PASSWORD}),
        json!({"email": "ada@example.org", "password": PASSWORD}),
    ] {
        expect(app.post_json("/api/auth/login", &credentials).await, StatusCode::OK).await;
    }
    expect_invalid(app.post_json("/api/auth/login", &json!({"username": "ada"})).await, &["body", "password"]).await;
    expect_invalid(app.post_json("/api/auth/login", &json!({"password": PASSWORD})).await, &["body", "username"]).await;
    let plain = app.request(Method::POST, "/api/auth/login").body("username=ada").send().await.unwrap();
    assert_eq!(plain.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Media types are case-insensitive.
    for content_type in ["Application/X-WWW-Form-Urlencoded; charset=UTF-8", "APPLICATION/JSON"] {
        let body = if content_type.contains("JSON") {
            json!({"username": "ada", "password": PASSWORD}).to_string()
        } else {
            format!("username=ada&password={}", PASSWORD.replace(' ', "+"))
        };
        let login = app.request(Method::POST, "/api/auth/login").header("content-type", content_type).body(body);
        expect(login.send().await.unwrap(), StatusCode::OK).await;
    }

    // A browser's FormData sends the form as multipart, which FastAPI's password form takes too.
    let multipart = |password: reqwest::multipart::Part| {
        let form = reqwest::multipart::Form::new().text("username", "ada").part("password", password);
        app.request(Method::POST, "/api/auth/login").multipart(form).send()
    };
    let by_multipart = expect(multipart(reqwest::multipart::Part::text(PASSWORD)).await.unwrap(), StatusCode::OK).await;
    assert_eq!(by_multipart["token_type"], "bearer");
    let as_file = reqwest::multipart::Part::text(PASSWORD).file_name("password.txt");
    expect_invalid(multipart(as_file).await.unwrap(), &["body", "password"]).await;
    let broken = app.request(Method::POST, "/api/auth/login").header("Content-Type", "multipart/form-data; boundary=x");
    assert_eq!(broken.body("--x\r\nno headers").send().await.unwrap().status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_73_byte_password_never_logs_in_as_its_72_byte_prefix() {
    let app = spawn_app().await;
    let password = "pq".repeat(36);
    app.register("ada", "ada@example.org", &password).await;
    app.get(&app.confirmation_path("ada@example.org").await, None).await;
    expect(app.login_form("ada", &password).await, StatusCode::OK).await;
    expect(app.login_form("ada", &format!("{password}x")).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn only_access_tokens_authenticate() {
    let app = spawn_app().await;
    let user = app.user("ada").await;
    expect(app.get("/api/users/me", Some(&user.token)).await, StatusCode::OK).await;

    let tokens = body(app.login_form("ada", PASSWORD).await).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    for token in [refresh, "garbage", "a.b.c", ""] {
        expect_unauthenticated(app.get("/api/contacts/", Some(token)).await).await;
    }
    expect_unauthenticated(app.get("/api/contacts/", None).await).await;
    let basic = app.request(Method::GET, "/api/contacts/").basic_auth("ada", Some(PASSWORD)).send().await.unwrap();
    expect_unauthenticated(basic).await;
}

#[tokio::test]
async fn a_confirmation_token_is_not_an_access_token() {
    let app = spawn_app().await;
    app.register("ada", "ada@example.org", PASSWORD).await;
    let path = app.confirmation_path("ada@example.org").await;
    let token = path.rsplit('/').next().unwrap();
    expect_unauthenticated(app.get("/api/users/me", Some(token)).await).await;
}

#[tokio::test]
async fn an_access_token_lives_its_whole_lifetime_then_is_refused() {
    // `exp` counts whole seconds, rounded up: a token of TTL n is good for at least n seconds
    // and less than n + 1. Logging in late in a second shows it: rounded down, the expiry would
    // fall most of a second before issue time + TTL.
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    let app = spawn_app_with(&[("ACCESS_TOKEN_TTL_SECONDS", "3")]).await;
    app.user("ada").await;
    let into_second = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().subsec_millis();
    tokio::time::sleep(Duration::from_millis(u64::from((1600 - into_second) % 1000))).await;
    // The token is issued between these two instants: still good 2.6 s after the first, and
    // refused 4.1 s after the second, however long the login itself took on a busy machine.
    let sent = Instant::now();
    let pair = expect(app.login_form("ada", PASSWORD).await, StatusCode::OK).await;
    let answered = Instant::now();
    let token = pair["access_token"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(2600).saturating_sub(sent.elapsed())).await;
    expect(app.get("/api/contacts/", Some(token)).await, StatusCode::OK).await;
    tokio::time::sleep(Duration::from_millis(4100).saturating_sub(answered.elapsed())).await;
    expect_unauthenticated(app.get("/api/contacts/", Some(token)).await).await;
}

#[tokio::test]
async fn me_returns_the_current_user() {
    let app = spawn_app().await;
    let user = app.user("ada").await;
    let me = expect(app.get("/api/users/me", Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(me["id"], user.id);
    assert_eq!(me["email"], "ada@example.org");
    assert_eq!(me["confirmed"], true);
}

#[tokio::test]
async fn request_email_answers_the_same_and_mails_only_unconfirmed_accounts() {
    let app = spawn_app().await;
    app.user("done").await;
    app.register("ada", "ada@example.org", PASSWORD).await;
    app.mail.wait_for("ada@example.org").await;
    let mails_before = app.mail.mails().len();

    let mut answers = Vec::new();
    for email in ["nobody@example.org", "done@example.org", "ADA@example.org"] {
        let response = app.post_json("/api/auth/request_email", &json!({"email": email})).await;
        answers.push(expect(response, StatusCode::OK).await);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "one answer for every case: {answers:?}");
    assert!(answers[0]["message"].is_string());
    // Mails go out in the order they were queued: once Ada's second one is here, a mail to
    // the others would have arrived too.
    assert_eq!(app.mail.wait_for_count("ada@example.org", 2).await.len(), 2);
    assert_eq!(app.mail.mails().len(), mails_before + 1, "only the unconfirmed account got a mail");

    // The new link confirms the account.
    expect(app.get(&app.confirmation_path("ada@example.org").await, None).await, StatusCode::OK).await;
    expect(app.login_form("ada", PASSWORD).await, StatusCode::OK).await;

    expect_invalid(app.post_json("/api/auth/request_email", &json!({"email": "nope"})).await, &["body", "email"]).await;
}

#[tokio::test]
async fn a_mail_server_that_is_down_does_not_lose_the_registration() {
    let port = contacts_test_support::unused_port().to_string();
    let app = spawn_app_with(&[("SMTP_PORT", &port)]).await;
    expect(app.register("ada", "ada@example.org", PASSWORD).await, StatusCode::CREATED).await;
    // The account exists: the password is checked and only the confirmation is missing.
    let login = expect(app.login_form("ada", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    assert_eq!(login["detail"], "Email not confirmed");
    let taken = expect(app.register("ada", "ada@example.org", PASSWORD).await, StatusCode::CONFLICT).await;
    assert_eq!(taken, json!({"detail": "An account with this email already exists"}));
    // Asking for a new link answers normally even though the mail cannot go out.
    expect(app.post_json("/api/auth/request_email", &json!({"email": "ada@example.org"})).await, StatusCode::OK).await;

    // Once the mail server is back, a new link is delivered and confirms the account.
    let mail = contacts_test_support::MailCatcher::start_on(port.parse().unwrap()).await;
    expect(app.post_json("/api/auth/request_email", &json!({"email": "ada@example.org"})).await, StatusCode::OK).await;
    let link = mail.wait_for("ada@example.org").await;
    let link = link.line_starting_with(&format!("{BASE_URL}/api/auth/confirmed_email/")).expect("a link");
    expect(app.get(link.strip_prefix(BASE_URL).unwrap(), None).await, StatusCode::OK).await;
    expect(app.login_form("ada", PASSWORD).await, StatusCode::OK).await;
}
