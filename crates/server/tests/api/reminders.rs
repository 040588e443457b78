//! Birthday reminders from outside: passes run by several instances sharing PostgreSQL, the
//! mail they queue, and its delivery.

use std::time::Duration;

use chrono::{DateTime, Datelike, Utc};
use contacts_postgres::Database;

use crate::helpers::{BASE_URL, TestApp, TestUser, contact, spawn_app_with};

/// A contact of `user` born 30 years before `on`, so their birthday is that day.
async fn contact_born(app: &TestApp, user: &TestUser, name: &str, on: DateTime<Utc>) {
    let mut body = contact(name, "Birthday", &format!("{name}@friends.test"));
    body["birthday"] = format!("{:04}-{:02}-{:02}", on.year() - 30, on.month(), on.day()).into();
    app.create_contact(user, &body).await;
}

/// One pass as an instance of `app` would run it (its own pool), as if the clock said `at`.
async fn pass(app: &TestApp, at: DateTime<Utc>) -> u64 {
    let database = Database::connect_lazy(app.db.url(), 2).unwrap();
    contacts_api::reminders::pass(&app.settings, database, Default::default()).run_at(at).await.unwrap()
}

fn digests(app: &TestApp, email: &str) -> Vec<contacts_test_support::CapturedMail> {
    app.mail
        .mails_to(email)
        .into_iter()
        .filter(|m| m.header("Subject").as_deref() == Some("Upcoming birthdays"))
        .collect()
}

async fn wait_for_digest(app: &TestApp, email: &str) {
    for _ in 0..100 {
        if !digests(app, email).is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no digest for {email}");
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
    assert!(mail.text().contains("- Bob Birthday: today, turns 30"), "{}", mail.text());
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

    // An unconfirmed user is not mailed.
    let cy = app.user("cyril").await;
    contact_born(&app, &cy, "Dee", now).await;
    app.db.execute("UPDATE users SET confirmed = false WHERE username = 'cyril'").await;
    app.db.execute("UPDATE user_settings SET reminder_hour = 0").await;
    assert_eq!(pass(&app, now).await, 0);
}
