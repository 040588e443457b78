//! Birthday reminders from outside: passes run by several instances sharing PostgreSQL, the
//! mail they queue, and its delivery.

use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use reqwest::{Method, StatusCode, header};
use serde_json::json;

use contacts_postgres::Database;

use crate::helpers::{
    BASE_URL, JWT_SECRET, PASSWORD, TestApp, TestUser, body, contact, expect, expect_invalid, expect_unauthenticated,
    form_target, spawn_app_with,
};

/// A contact of `user` born 28 years before `on`, so their birthday is that day (28 keeps a
/// leap year a leap year, so this holds on 29 February too).
async fn contact_born(app: &TestApp, user: &TestUser, name: &str, on: DateTime<Utc>) {
    let mut body = contact(name, "Birthday", &format!("{name}@friends.test"));
    body["birthday"] = format!("{:04}-{:02}-{:02}", on.year() - 28, on.month(), on.day()).into();
    app.create_contact(user, &body).await;
}

/// One pass as an instance of `app` would run it (its own pool), as if the clock said `at`.
async fn pass(app: &TestApp, at: DateTime<Utc>) -> u64 {
    let database = Database::connect_lazy(app.db.url(), 2).unwrap();
    contacts_api::reminders::pass(&app.settings, database, Default::default()).run_at(at).await.unwrap()
}

fn digests(app: &TestApp, email: &str) -> Vec<contacts_test_support::CapturedMail> {
    digests_in(&app.mail, email)
}

/// The digests `mail` caught for `email` (not the account's confirmation mail).
fn digests_in(mail: &contacts_test_support::MailCatcher, email: &str) -> Vec<contacts_test_support::CapturedMail> {
    mail.mails_to(email).into_iter().filter(|m| m.header("Subject").as_deref() == Some("Upcoming birthdays")).collect()
}

async fn wait_for_digest(app: &TestApp, email: &str) -> contacts_test_support::CapturedMail {
    for _ in 0..100 {
        if let Some(mail) = digests(app, email).pop() {
            return mail;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no digest for {email}");
}

/// The unsubscribe link of a digest, as a path of the app.
fn unsubscribe_path(mail: &contacts_test_support::CapturedMail) -> String {
    let link = mail.line_starting_with(&format!("{BASE_URL}/api/reminders/unsubscribe?token=")).expect("a link");
    link.strip_prefix(BASE_URL).unwrap().to_owned()
}

/// `ada`, with a contact whose birthday is today, a digest due at any hour, and that digest
/// delivered: returns the user and the path of its unsubscribe link.
async fn user_with_digest(app: &TestApp) -> (TestUser, String) {
    let ada = app.user("ada").await;
    let now = Utc::now();
    contact_born(app, &ada, "Bob", now).await;
    set_settings(app, &ada, json!({"reminder_hour": 0})).await;
    assert_eq!(pass(app, now).await, 1);
    (ada, unsubscribe_path(&wait_for_digest(app, "ada@example.org").await))
}

async fn settings(app: &TestApp, user: &TestUser) -> serde_json::Value {
    expect(app.get("/api/users/me/settings", Some(&user.token)).await, StatusCode::OK).await
}

async fn set_settings(app: &TestApp, user: &TestUser, change: serde_json::Value) -> serde_json::Value {
    let response = app.send_json(Method::PATCH, "/api/users/me/settings", Some(&user.token), &change).await;
    expect(response, StatusCode::OK).await
}

/// A one-click unsubscribe as a mail client sends it (RFC 8058).
async fn one_click(app: &TestApp, path: &str) -> reqwest::Response {
    app.request(Method::POST, path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap()
}

/// Registers `username` and confirms the account in the database, without its mail (the mail
/// server of the test may be down), then logs in.
async fn user_confirmed_directly(app: &TestApp, username: &str) -> TestUser {
    let registered = app.register(username, &format!("{username}@example.org"), PASSWORD).await;
    let id = expect(registered, StatusCode::CREATED).await["id"].as_i64().unwrap();
    app.db.execute(&format!("UPDATE users SET confirmed = true WHERE id = {id}")).await;
    let tokens = body(app.login_form(username, PASSWORD).await).await;
    TestUser { id, token: tokens["access_token"].as_str().unwrap().to_owned() }
}

#[tokio::test]
async fn settings_start_at_the_defaults_and_change_field_by_field() {
    let app = spawn_app_with(&[]).await;
    let ada = app.user("ada").await;
    let defaults = json!({"timezone": "UTC", "birthday_reminders": true, "reminder_days": 1, "reminder_hour": 8});
    assert_eq!(settings(&app, &ada).await, defaults);

    let changed = set_settings(&app, &ada, json!({"timezone": "America/Los_Angeles", "reminder_days": 0})).await;
    let expected =
        json!({"timezone": "America/Los_Angeles", "birthday_reminders": true, "reminder_days": 0, "reminder_hour": 8});
    assert_eq!(changed, expected);
    let changed = set_settings(&app, &ada, json!({"birthday_reminders": false, "reminder_hour": 23})).await;
    assert_eq!(changed["timezone"], "America/Los_Angeles", "absent fields keep their value");
    assert_eq!((changed["birthday_reminders"].clone(), changed["reminder_hour"].clone()), (json!(false), json!(23)));
    assert_eq!(settings(&app, &ada).await, changed);
    assert_eq!(set_settings(&app, &ada, json!({})).await, changed, "an empty change changes nothing");
    // A whole number written with a zero fraction is that number, as JSON Schema's `integer` says.
    let whole = set_settings(&app, &ada, json!({"reminder_days": 3.0, "reminder_hour": 9.0})).await;
    assert_eq!((whole["reminder_days"].clone(), whole["reminder_hour"].clone()), (json!(3), json!(9)));

    // One user's settings are theirs alone.
    let bob = app.user("bob").await;
    assert_eq!(settings(&app, &bob).await, defaults);
    expect_unauthenticated(app.get("/api/users/me/settings", None).await).await;
    let anonymous = app.send_json(Method::PATCH, "/api/users/me/settings", None, &json!({"reminder_hour": 1})).await;
    expect_unauthenticated(anonymous).await;
}

#[tokio::test]
async fn bad_settings_are_refused_at_their_field_and_change_nothing() {
    let app = spawn_app_with(&[]).await;
    let ada = app.user("ada").await;
    let before = settings(&app, &ada).await;
    let patch = async |change: serde_json::Value| {
        app.send_json(Method::PATCH, "/api/users/me/settings", Some(&ada.token), &change).await
    };
    for (change, field) in [
        (json!({"timezone": "Mars/Olympus_Mons"}), "timezone"),
        (json!({"timezone": ""}), "timezone"),
        (json!({"timezone": 5}), "timezone"),
        (json!({"timezone": null}), "timezone"),
        (json!({"reminder_days": 31}), "reminder_days"),
        (json!({"reminder_days": -1}), "reminder_days"),
        (json!({"reminder_days": 1.5}), "reminder_days"),
        (json!({"reminder_hour": 24}), "reminder_hour"),
        (json!({"reminder_hour": "8"}), "reminder_hour"),
        (json!({"reminder_hour": null}), "reminder_hour"),
        (json!({"reminder_hour": 1e300}), "reminder_hour"),
        (json!({"birthday_reminders": "yes"}), "birthday_reminders"),
        // A valid field next to a wrong one is not applied either.
        (json!({"reminder_hour": 5, "reminder_days": 99}), "reminder_days"),
    ] {
        expect_invalid(patch(change).await, &["body", field]).await;
    }
    // Every wrong field is named at once.
    let both =
        expect(patch(json!({"timezone": "Nowhere", "reminder_hour": -3})).await, StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    let locs: Vec<_> = both["detail"].as_array().unwrap().iter().map(|d| d["loc"].clone()).collect();
    assert_eq!(locs, [json!(["body", "timezone"]), json!(["body", "reminder_hour"])]);
    assert_eq!(settings(&app, &ada).await, before);
}

#[tokio::test]
async fn the_link_opens_a_page_that_changes_nothing_and_whose_button_turns_reminders_off() {
    let app = spawn_app_with(&[]).await;
    let (ada, path) = user_with_digest(&app).await;

    let page = app.get(&path, None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script"), "no JavaScript");
    assert_eq!(settings(&app, &ada).await["birthday_reminders"], true, "opening the link changes nothing");

    // The form, as a browser without JavaScript submits it.
    let action = form_target(&path, &html);
    assert!(html.contains("method=\"post\""), "{html}");
    let submitted = app
        .request(Method::POST, &action)
        .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), StatusCode::OK);
    assert!(submitted.text().await.unwrap().contains("no more birthday reminders"));
    assert_eq!(settings(&app, &ada).await["birthday_reminders"], false);
}

#[tokio::test]
async fn one_click_turns_reminders_off_and_bad_tokens_change_nothing() {
    let app = spawn_app_with(&[]).await;
    let (ada, path) = user_with_digest(&app).await;

    // Bad tokens: garbled, missing, another kind (the confirmation link's), expired.
    let prefix = format!("{BASE_URL}/api/auth/confirmed_email/");
    let confirmation = app.mail.wait_for_line("ada@example.org", &prefix).await;
    let other_kind = confirmation.line_starting_with(&prefix).unwrap().strip_prefix(&prefix).unwrap().to_owned();
    let expired = {
        // Signed with the server's key, for ada, but its 90 days are over. (A pass run for a
        // past time signs its links at the real time: they work.)
        use contacts_domain::auth::{Claims, TokenCodec, TokenKind};
        let long_ago = Utc::now() - chrono::Duration::days(400);
        let claims = Claims {
            subject: contacts_domain::user::UserId(ada.id),
            kind: TokenKind::ReminderUnsubscribe,
            issued_at: long_ago,
            expires_at: long_ago + chrono::Duration::days(90),
            version: 0,
            session: None,
        };
        let token = contacts_crypto::JwtCodec::new(JWT_SECRET.as_bytes()).encode(&claims).unwrap();
        format!("/api/reminders/unsubscribe?token={token}")
    };
    for bad in [
        format!("{path}x"),
        "/api/reminders/unsubscribe".to_owned(),
        format!("/api/reminders/unsubscribe?token={other_kind}"),
        // A repeated token is read, not refused as a malformed query: its last value counts.
        format!("{path}&token=x"),
        expired,
    ] {
        let refused = expect(one_click(&app, &bad).await, StatusCode::BAD_REQUEST).await;
        assert!(refused["detail"].is_string(), "{refused}");
        let page = app.get(&bad, None).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(page.text().await.unwrap().contains("invalid or has expired"));
    }
    assert_eq!(settings(&app, &ada).await["birthday_reminders"], true, "nothing changed");

    let done = expect(one_click(&app, &path).await, StatusCode::OK).await;
    assert_eq!(done, json!({"message": "Birthday reminders are off"}));
    assert_eq!(settings(&app, &ada).await["birthday_reminders"], false);
    // Turned off, no pass picks the user up, whatever the day holds.
    app.db.execute("UPDATE user_settings SET next_run_at = '-infinity'").await;
    assert_eq!(pass(&app, Utc::now() + chrono::Duration::days(1)).await, 0);
    assert_eq!(expect(one_click(&app, &path).await, StatusCode::OK).await, done, "a second click is harmless");
}

#[tokio::test]
async fn digests_queued_while_the_mail_server_is_down_reach_confirmed_users_once_and_nobody_else() {
    let port = contacts_test_support::unused_port();
    let app = spawn_app_with(&[("SMTP_PORT", &port.to_string())]).await;
    let now = Utc::now();
    let mut users = Vec::new();
    for name in ["ada", "bob", "cyril"] {
        let user = user_confirmed_directly(&app, name).await;
        contact_born(&app, &user, "Friend", now).await;
        users.push(user);
    }
    app.db.execute("UPDATE user_settings SET reminder_hour = 0").await;
    assert_eq!(pass(&app, now).await, 3);
    // Let the worker fail at least once, then bob deletes his account and cyril's is no
    // longer confirmed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.db.execute(&format!("DELETE FROM users WHERE id = {}", users[1].id)).await;
    app.db.execute(&format!("UPDATE users SET confirmed = false WHERE id = {}", users[2].id)).await;

    let mail = contacts_test_support::MailCatcher::start_on(port).await;
    // The first retry comes within 30 s.
    for _ in 0..300 {
        if !digests_in(&mail, "ada@example.org").is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(digests_in(&mail, "ada@example.org").len(), 1, "delivered, and once");
    assert!(digests_in(&mail, "bob@example.org").is_empty(), "a deleted account gets no mail");
    assert!(digests_in(&mail, "cyril@example.org").is_empty(), "an unconfirmed account gets no mail");
}

#[tokio::test]
async fn send_reminders_runs_one_pass_at_the_time_given_and_prints_how_many_it_queued() {
    let app = spawn_app_with(&[]).await;
    let ada = app.user("ada").await;
    // 06:00 in Tokyo is 21:00 UTC the day before; the digest is for the Tokyo date.
    contact_born(&app, &ada, "Bob", "2026-03-10T00:00:00Z".parse().unwrap()).await;
    set_settings(&app, &ada, json!({"timezone": "Asia/Tokyo", "reminder_hour": 6, "reminder_days": 0})).await;
    // With every log line let through: they go to standard error, the count alone to standard
    // output, as a cron job or a script reads it.
    let vars = [
        ("DATABASE_URL", app.db.url()),
        ("JWT_SECRET", crate::helpers::JWT_SECRET),
        ("APP_BASE_URL", BASE_URL),
        ("RUST_LOG", "debug"),
    ];
    let run = |at: &str| {
        let output = crate::cli::run(&["send-reminders", "--at", at], &vars);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?}");
        assert!(!output.stderr.is_empty(), "the debug lines went to standard error");
        stdout.trim().to_owned()
    };
    assert_eq!(run("2026-03-09T20:59:00Z"), "0", "05:59 in Tokyo: not yet");
    assert_eq!(run("2026-03-09T21:00:00Z"), "1");
    assert_eq!(run("2026-03-09T23:00:00Z"), "0", "once a local day");
    let digest = wait_for_digest(&app, "ada@example.org").await;
    assert!(digest.text().contains("Bob Birthday"), "{}", digest.text());

    let refused = crate::cli::run(&["send-reminders", "--at", "tomorrow"], &vars);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("tomorrow"));
    // A RUST_LOG that is not a filter is a mistake in configuration, named, not ignored.
    let bad_filter = [("RUST_LOG", "[[["), ("DATABASE_URL", app.db.url())];
    let refused = crate::cli::run(&["send-reminders"], &bad_filter);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.starts_with("error: RUST_LOG: \"[[[\"") && stderr.lines().count() == 1, "{stderr}");
}

#[tokio::test]
async fn three_instances_passing_at_once_queue_one_digest_and_a_second_pass_nothing() {
    let app = spawn_app_with(&[("REMINDER_SCAN_SECONDS", "0")]).await;
    let _second = app.second_instance().await;
    let _third = app.second_instance().await;
    let ada = app.user("ada").await;
    let now = Utc::now();
    contact_born(&app, &ada, "Bob", now).await;
    // Due at any hour of the day the test runs.
    app.db.execute("UPDATE user_settings SET reminder_hour = 0").await;

    let passes = futures_util::future::join_all([pass(&app, now), pass(&app, now), pass(&app, now)]).await;
    assert_eq!(passes.iter().sum::<u64>(), 1, "{passes:?}");
    wait_for_digest(&app, "ada@example.org").await;

    // Same local day, later: nothing more, even with the user due again after a settings change.
    app.db.execute("UPDATE user_settings SET next_run_at = '-infinity'").await;
    assert_eq!(pass(&app, now + chrono::Duration::minutes(5)).await, 0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = digests(&app, "ada@example.org");
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.text().contains("- Bob Birthday: today, turns 28"), "{}", mail.text());
    let link = mail.line_starting_with(&format!("{BASE_URL}/api/reminders/unsubscribe?token=")).expect("a link");
    assert_eq!(mail.header("List-Unsubscribe"), Some(format!("<{link}>")));
    assert_eq!(mail.header("List-Unsubscribe-Post").as_deref(), Some("List-Unsubscribe=One-Click"));
    assert!(mail.html().contains("Bob Birthday"));
}

#[tokio::test]
async fn the_scan_of_running_instances_sends_one_digest() {
    let app = spawn_app_with(&[("REMINDER_SCAN_SECONDS", "1")]).await;
    let _second = app.second_instance().await;
    let _third = app.second_instance().await;
    let ada = app.user("ada").await;
    contact_born(&app, &ada, "Bob", Utc::now()).await;
    // Due at any hour of the day the test runs.
    app.db.execute("UPDATE user_settings SET reminder_hour = 0, next_run_at = '-infinity'").await;
    wait_for_digest(&app, "ada@example.org").await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(digests(&app, "ada@example.org").len(), 1);
}

#[tokio::test]
async fn no_mail_on_a_day_without_birthdays_and_none_for_an_unconfirmed_user() {
    let app = spawn_app_with(&[("REMINDER_SCAN_SECONDS", "0")]).await;
    let ada = app.user("ada").await;
    let now = Utc::now();
    contact_born(&app, &ada, "Bob", now + chrono::Duration::days(3)).await;
    app.db.execute("UPDATE user_settings SET reminder_hour = 0").await;
    assert_eq!(pass(&app, now).await, 0, "the birthday is outside one day ahead");
    // The day is recorded anyway (the statement fails otherwise).
    app.db
        .execute(
            "DO $$ BEGIN IF (SELECT count(*) FROM reminder_runs WHERE NOT mailed) <> 1 THEN \
             RAISE EXCEPTION 'expected one run without mail'; END IF; END $$",
        )
        .await;
    // A birthday added later that day waits: the day's digest was the pass at the hour...
    contact_born(&app, &ada, "Cleo", now).await;
    assert_eq!(pass(&app, now).await, 0, "not due again today");
    // ...unless the settings change: a day that has had no digest yet can still have one.
    set_settings(&app, &ada, json!({"reminder_days": 3})).await;
    assert_eq!(pass(&app, now).await, 1, "Bob and Cleo, once the settings changed");
    set_settings(&app, &ada, json!({"reminder_days": 4})).await;
    assert_eq!(pass(&app, now).await, 0, "and still one digest a day");

    // An unconfirmed user is not mailed.
    let cy = app.user("cyril").await;
    contact_born(&app, &cy, "Dee", now).await;
    app.db.execute("UPDATE users SET confirmed = false WHERE username = 'cyril'").await;
    app.db.execute("UPDATE user_settings SET reminder_hour = 0").await;
    assert_eq!(pass(&app, now).await, 0);
}
