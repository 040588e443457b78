use super::*;

use std::collections::HashSet;

use contacts_domain::contact::{ContactRepository, NewContact};
use contacts_domain::mail::DeliveryQueue;

use crate::test_fixtures::{TwoUsers, birthday, create_user, email, execute_sql, new_contact, two_users};
use crate::{FloodGuard, PgContactRepository, PgMailOutbox};

fn store(db: Database) -> PgReminderStore {
    PgReminderStore::new(db, Arc::default())
}

fn lease() -> Duration {
    Duration::minutes(5)
}

fn digest_to(address: &str) -> Email {
    Email {
        to: email(address),
        subject: "Upcoming birthdays".to_owned(),
        text: "text".to_owned(),
        html: "<p>html</p>".to_owned(),
        headers: vec![("List-Unsubscribe-Post".to_owned(), "List-Unsubscribe=One-Click".to_owned())],
    }
}

fn ids(users: &[DueUser]) -> Vec<UserId> {
    users.iter().map(|u| u.id).collect()
}

fn day(raw: &str) -> NaiveDate {
    raw.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_due_user_is_claimed_once_per_lease_and_users_with_reminders_off_never() {
    let TwoUsers { store, ada, grace, test_db: _test_db, .. } = two_users(store).await;
    let off = SettingsPatch { birthday_reminders: Some(false), ..SettingsPatch::default() };
    store.update_settings(grace, off).await.unwrap();
    let now = Utc::now();

    let claimed = store.claim_due(now, lease(), 10).await.unwrap();
    assert_eq!(ids(&claimed), [ada]);
    let due = &claimed[0];
    assert_eq!((due.email.as_str(), due.username.as_str(), due.confirmed), ("ada@example.com", "ada", false));
    assert_eq!(due.settings.timezone.name(), "UTC");
    assert!(store.claim_due(now, lease(), 10).await.unwrap().is_empty(), "leased");
    let later = store.claim_due(now + lease() + Duration::seconds(1), lease(), 10).await.unwrap();
    assert_eq!(ids(&later), [ada], "a crashed instance's claim runs out");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_claims_never_share_a_user() {
    let TwoUsers { store, db, test_db: _test_db, .. } = two_users(store).await;
    for i in 0..18 {
        create_user(&db, &format!("user{i}")).await;
    }
    let now = Utc::now();
    let claims: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_due(now, lease(), 6).await.unwrap() })
        })
        .collect();
    let mut claimed = Vec::new();
    for claim in claims {
        claimed.extend(ids(&claim.await.unwrap()));
    }
    let distinct: HashSet<_> = claimed.iter().collect();
    assert_eq!((claimed.len(), distinct.len()), (20, 20), "every user once: {claimed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_is_recorded_once_per_user_and_local_day_and_only_then_queues_its_mail() {
    let TwoUsers { store, db, ada, test_db: _test_db, .. } = two_users(store).await;
    execute_sql(&db, &format!("UPDATE users SET confirmed = true WHERE id = {}", ada.0)).await.unwrap();
    store.claim_due(Utc::now(), lease(), 10).await.unwrap();
    let next = Utc::now() + Duration::days(1);
    assert!(store.complete(ada, 0, day("2026-05-17"), Some(digest_to("ada@example.com")), next).await.unwrap());
    assert!(!store.complete(ada, 0, day("2026-05-17"), Some(digest_to("ada@example.com")), next).await.unwrap());
    assert!(!store.complete(ada, 0, day("2026-05-18"), None, next).await.unwrap(), "a day without birthdays");

    let outbox = PgMailOutbox::new(db.clone(), FloodGuard { cooldown_seconds: 0, daily_limit: 10 });
    let mails = outbox.claim(Utc::now(), Duration::seconds(60), 10).await.unwrap();
    assert_eq!(mails.len(), 1, "one mail for the day");
    assert_eq!(mails[0].kind, MailKind::BirthdayReminder);
    assert_eq!(mails[0].email.headers, digest_to("ada@example.com").headers);
    assert!(store.claim_due(Utc::now(), lease(), 10).await.unwrap().iter().all(|u| u.id != ada), "rescheduled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_recorded_as_if_weeks_ahead_keeps_the_run_of_the_real_local_today() {
    let TwoUsers { store, ada, test_db: _test_db, .. } = two_users(store).await;
    store.claim_due(Utc::now(), lease(), 10).await.unwrap();
    let next = Utc::now() + Duration::days(1);
    let mail = || Some(digest_to("ada@example.com"));
    // The real local today: the UTC date, or a day either side in the farthest zones.
    let today = Utc::now().date_naive();
    let todays = [today - Duration::days(1), today, today + Duration::days(1)];
    let month_ago = today - Duration::days(30);
    assert!(store.complete(ada, 0, month_ago, mail(), next).await.unwrap());
    for local in todays {
        assert!(store.complete(ada, 0, local, mail(), next).await.unwrap(), "{local}");
    }
    // `send-reminders --at` three weeks ahead.
    assert!(store.complete(ada, 0, today + Duration::days(21), mail(), next).await.unwrap());
    for local in todays {
        assert!(!store.complete(ada, 0, local, mail(), next).await.unwrap(), "{local} is not mailed twice");
    }
    assert!(store.complete(ada, 0, month_ago, mail(), next).await.unwrap(), "a run weeks old is still dropped");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_who_confirms_is_looked_at_again_at_once_and_no_other_change_to_a_user_does_that() {
    let TwoUsers { store, db, ada, test_db: _test_db, .. } = two_users(store).await;
    // A pass found ada unconfirmed after her hour and moved her next look to tomorrow.
    store.claim_due(Utc::now(), lease(), 10).await.unwrap();
    store.reschedule(ada, Utc::now() + Duration::days(1)).await.unwrap();
    let due_now = |store: PgReminderStore| async move { ids(&store.claim_due(Utc::now(), lease(), 10).await.unwrap()) };
    assert!(!due_now(store.clone()).await.contains(&ada));

    execute_sql(&db, &format!("UPDATE users SET avatar = 'x' WHERE id = {}", ada.0)).await.unwrap();
    assert!(!due_now(store.clone()).await.contains(&ada), "another change leaves the schedule alone");
    execute_sql(&db, &format!("UPDATE users SET confirmed = true WHERE id = {}", ada.0)).await.unwrap();
    assert!(due_now(store.clone()).await.contains(&ada), "confirmed: due at once");
    store.reschedule(ada, Utc::now() + Duration::days(1)).await.unwrap();
    execute_sql(&db, &format!("UPDATE users SET confirmed = true WHERE id = {}", ada.0)).await.unwrap();
    assert!(!due_now(store).await.contains(&ada), "confirmed again changes nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reminder_queued_for_an_account_no_longer_confirmed_is_dropped_not_sent() {
    let TwoUsers { store, db, ada, test_db: _test_db, .. } = two_users(store).await;
    store.claim_due(Utc::now(), lease(), 10).await.unwrap();
    assert!(store.complete(ada, 0, day("2026-05-17"), Some(digest_to("ada@example.com")), Utc::now()).await.unwrap());
    let outbox = PgMailOutbox::new(db.clone(), FloodGuard { cooldown_seconds: 0, daily_limit: 10 });
    assert!(outbox.claim(Utc::now(), Duration::seconds(60), 10).await.unwrap().is_empty(), "unconfirmed");
    execute_sql(&db, &format!("UPDATE users SET confirmed = true WHERE id = {}", ada.0)).await.unwrap();
    assert!(outbox.claim(Utc::now(), Duration::seconds(60), 10).await.unwrap().is_empty(), "and gone for good");
}

#[tokio::test(flavor = "multi_thread")]
async fn birthdays_are_found_by_month_and_day_for_their_owner_only() {
    let TwoUsers { store, db, ada, grace, test_db: _test_db, .. } = two_users(store).await;
    let contacts = PgContactRepository::new(db.clone());
    let born = |first: &str, raw: &str| NewContact {
        birthday: birthday(raw),
        ..new_contact(first, "Doe", &format!("{first}@example.org"))
    };
    contacts.create(ada, born("May", "1990-05-17")).await.unwrap();
    contacts.create(ada, born("June", "1990-06-01")).await.unwrap();
    contacts.create(grace, born("Other", "1980-05-17")).await.unwrap();

    let found = store.birthdays(ada, &[MonthDay { month: 5, day: 17 }, MonthDay { month: 5, day: 18 }]).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].name.as_str(), found[0].birthday), ("May Doe", Some(day("1990-05-17"))));
    assert_eq!(found[0].birthday_md, MonthDay { month: 5, day: 17 });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_settings_change_applies_the_patch_and_makes_the_user_due_again() {
    let TwoUsers { store, ada, test_db: _test_db, .. } = two_users(store).await;
    store.claim_due(Utc::now(), lease(), 10).await.unwrap();
    store.reschedule(ada, Utc::now() + Duration::days(1)).await.unwrap();
    assert!(store.claim_due(Utc::now(), lease(), 10).await.unwrap().iter().all(|u| u.id != ada));

    let patch = SettingsPatch::parse(contacts_domain::reminders::SettingsInput {
        timezone: Some("Asia/Tokyo".to_owned()),
        reminder_hour: Some(6),
        ..Default::default()
    })
    .unwrap();
    let settings = store.update_settings(ada, patch).await.unwrap();
    assert_eq!(
        (settings.timezone.name(), settings.reminder_hour.get(), settings.reminder_days.get()),
        ("Asia/Tokyo", 6, 1)
    );
    assert_eq!(store.settings(ada).await.unwrap(), settings);
    assert!(store.claim_due(Utc::now(), lease(), 10).await.unwrap().iter().any(|u| u.id == ada));
    assert!(matches!(store.settings(UserId(i64::MAX)).await, Err(Error::NotFound(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_that_read_settings_changed_since_its_claim_records_and_queues_nothing() {
    let TwoUsers { store, db, ada, test_db: _test_db, .. } = two_users(store).await;
    execute_sql(&db, &format!("UPDATE users SET confirmed = true WHERE id = {}", ada.0)).await.unwrap();
    let mail = || Some(digest_to("ada@example.com"));
    let next = Utc::now() + Duration::days(1);
    assert!(ids(&store.claim_due(Utc::now(), lease(), 10).await.unwrap()).contains(&ada));

    // The unsubscribe link is followed while the pass is writing the digest.
    let off = SettingsPatch { birthday_reminders: Some(false), ..SettingsPatch::default() };
    store.update_settings(ada, off).await.unwrap();

    assert!(!store.complete(ada, 0, day("2026-05-17"), mail(), next).await.unwrap(), "no digest after an unsubscribe");
    store.reschedule(ada, next).await.unwrap();
    let outbox = PgMailOutbox::new(db.clone(), FloodGuard { cooldown_seconds: 0, daily_limit: 10 });
    assert!(outbox.claim(Utc::now(), Duration::seconds(60), 10).await.unwrap().is_empty());

    // A new time zone while a pass holds the user: the pass's schedule does not overwrite it.
    store
        .update_settings(ada, SettingsPatch { birthday_reminders: Some(true), ..SettingsPatch::default() })
        .await
        .unwrap();
    store.reschedule(ada, next).await.unwrap();
    assert!(!store.complete(ada, 0, day("2026-05-17"), mail(), next).await.unwrap());
    let again = store.claim_due(Utc::now(), lease(), 10).await.unwrap();
    assert_eq!(ids(&again), [ada], "due again at once, alone");
    assert_eq!(again[0].revision, 2, "two changes since");
    assert!(store.complete(ada, 2, day("2026-05-17"), mail(), next).await.unwrap(), "the next pass mails");
}

/// A change of settings while a pass holds the user makes them due at once, so a second pass
/// may claim them (and schedule them for the new hour) before the first completes: the first
/// pass, which read the old settings, still records and queues nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_pass_whose_settings_changed_and_were_claimed_again_records_nothing() {
    let TwoUsers { store, db, ada, test_db: _test_db, .. } = two_users(store).await;
    execute_sql(&db, &format!("UPDATE users SET confirmed = true WHERE id = {}", ada.0)).await.unwrap();
    let first = store.claim_due(Utc::now(), lease(), 10).await.unwrap();
    let read = first.iter().find(|u| u.id == ada).unwrap().revision;
    let later_hour =
        SettingsPatch { reminder_hour: Some(ReminderHour::parse(23).unwrap()), ..SettingsPatch::default() };
    store.update_settings(ada, later_hour).await.unwrap();
    let second = store.claim_due(Utc::now(), lease(), 10).await.unwrap();
    assert_eq!(ids(&second), [ada], "due again at once: another pass takes the user");
    let tonight = Utc::now() + Duration::hours(6);
    store.reschedule(ada, tonight).await.unwrap();

    let mail = Some(digest_to("ada@example.com"));
    assert!(!store.complete(ada, read, day("2026-05-17"), mail, tonight).await.unwrap(), "read the old hour");
    let outbox = PgMailOutbox::new(db.clone(), FloodGuard { cooldown_seconds: 0, daily_limit: 10 });
    assert!(outbox.claim(Utc::now(), Duration::seconds(60), 10).await.unwrap().is_empty(), "no digest queued");
}
