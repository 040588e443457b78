//! Mail delivery through the outbox and the flood guard, from outside.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, expect, spawn_app, spawn_app_with};

async fn request_email(app: &TestApp, email: &str) {
    expect(app.post_json("/api/auth/request_email", &json!({"email": email})).await, StatusCode::OK).await;
}

#[tokio::test]
async fn fifty_confirmation_requests_send_one_mail() {
    let app = spawn_app_with(&[("MAIL_COOLDOWN_SECONDS", "60")]).await;
    expect(app.register("ada", "ada@example.org", PASSWORD).await, StatusCode::CREATED).await;
    for _ in 0..50 {
        request_email(&app, "ada@example.org").await;
    }
    app.mail.wait_for("ada@example.org").await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // a poll interval and more
    assert_eq!(app.mail.mails_to("ada@example.org").len(), 1);
}

#[tokio::test]
async fn concurrent_requests_cannot_pass_the_cooldown_together() {
    let app = spawn_app_with(&[("MAIL_COOLDOWN_SECONDS", "60")]).await;
    app.user("ada").await;
    let body = json!({"email": "ada@example.org"});
    let requests = (0..20).map(|_| app.post_json("/api/auth/request_password_reset", &body));
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), StatusCode::OK);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The confirmation mail of `user` was the last one allowed for a minute.
    assert_eq!(app.mail.mails_to("ada@example.org").len(), 1);
}

#[tokio::test]
async fn without_cooldown_the_daily_cap_holds() {
    let app = spawn_app_with(&[("MAIL_COOLDOWN_SECONDS", "0"), ("MAIL_DAILY_LIMIT", "3")]).await;
    expect(app.register("ada", "ada@example.org", PASSWORD).await, StatusCode::CREATED).await;
    for _ in 0..10 {
        request_email(&app, "ada@example.org").await;
    }
    app.mail.wait_for_count("ada@example.org", 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(app.mail.mails_to("ada@example.org").len(), 3, "the registration's mail counts too");
}

#[tokio::test]
async fn a_mail_queued_while_the_mail_server_is_down_is_delivered_once_when_it_is_back() {
    let port = contacts_test_support::unused_port();
    let app = spawn_app_with(&[("SMTP_PORT", &port.to_string())]).await;
    expect(app.register("ada", "ada@example.org", PASSWORD).await, StatusCode::CREATED).await;
    // Let the worker fail at least once.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mail = contacts_test_support::MailCatcher::start_on(port).await;
    // The first retry comes within 30 s.
    for _ in 0..300 {
        if !mail.mails_to("ada@example.org").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(mail.mails_to("ada@example.org").len(), 1, "delivered, and once");
    let path = mail.mails_to("ada@example.org")[0]
        .line_starting_with(&format!("{}/api/auth/confirmed_email/", crate::helpers::BASE_URL))
        .expect("a link");
    expect(app.get(path.strip_prefix(crate::helpers::BASE_URL).unwrap(), None).await, StatusCode::OK).await;
}

#[tokio::test]
async fn two_instances_sharing_a_database_deliver_each_mail_once() {
    let app = spawn_app().await;
    let _second = app.second_instance().await;
    let _third = app.second_instance().await;
    for i in 0..15 {
        let email = format!("user{i}@example.org");
        expect(app.register(&format!("user{i}"), &email, PASSWORD).await, StatusCode::CREATED).await;
    }
    for i in 0..15 {
        app.mail.wait_for(&format!("user{i}@example.org")).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.mail.mails().len(), 15, "every mail once");
}

/// A reset request is recorded before it is answered: one an instance answered but did not
/// live to handle (its row left, its lease run out) is handled by another, so the link the
/// user was told about still comes; handled requests are forgotten.
#[tokio::test]
async fn a_reset_request_left_by_a_dead_instance_is_sent_by_another() {
    let app = spawn_app_with(&[("MAIL_COOLDOWN_SECONDS", "0")]).await;
    app.user("ada").await;
    let before = app.mail.mails_to("ada@example.org").len();
    expect(
        app.post_json("/api/auth/request_password_reset", &json!({"email": "ada@example.org"})).await,
        StatusCode::OK,
    )
    .await;
    app.mail.wait_for_count("ada@example.org", before + 1).await;
    let mut waited = 0;
    while app.db.count("SELECT count(*) FROM mail_requests").await > 0 && waited < 50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(app.db.count("SELECT count(*) FROM mail_requests").await, 0, "handled, then forgotten");

    app.db
        .execute(
            "INSERT INTO mail_requests (kind, address, leased_until) \
             VALUES ('password_reset', 'ada@example.org', now() - interval '1 second')",
        )
        .await;
    let mails = app.mail.wait_for_count("ada@example.org", before + 2).await;
    assert!(mails.last().unwrap().text().contains("/reset-password?token="), "{}", mails.last().unwrap().text());
    assert_eq!(app.db.count("SELECT count(*) FROM mail_requests").await, 0);
}
