use chrono::TimeZone;
use mockall::predicate::eq;

use super::*;
use crate::auth::MockTokenCodec;
use crate::clock::MockClock;
use crate::mail::LinkPaths;
use crate::reminders::MockReminderStore;
use crate::reminders::settings::{ReminderDays, ReminderHour, TimeZoneName};

fn utc(raw: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc)
}

fn user(zone: &str, hour: i64, days: i64, confirmed: bool) -> DueUser {
    DueUser {
        id: UserId(7),
        email: EmailAddress::parse("email", "ann@example.org").unwrap(),
        username: "ann".into(),
        confirmed,
        settings: ReminderSettings {
            timezone: TimeZoneName::parse(zone).unwrap(),
            birthday_reminders: true,
            reminder_days: ReminderDays::parse(days).unwrap(),
            reminder_hour: ReminderHour::parse(hour).unwrap(),
        },
    }
}

fn pass(store: MockReminderStore) -> ReminderPass<MockReminderStore, MockTokenCodec, MockClock> {
    let mut tokens = MockTokenCodec::new();
    tokens
        .expect_encode()
        .withf(|claims| claims.kind == TokenKind::ReminderUnsubscribe && claims.subject == UserId(7))
        .returning(|_| Ok("TOKEN".into()));
    let paths = LinkPaths {
        confirm_email: "/confirm/{token}".into(),
        reset_password: "/reset?token={token}".into(),
        unsubscribe_reminders: "/reminders/unsubscribe?token={token}".into(),
    };
    ReminderPass::new(store, tokens, MockClock::new(), Links::new("http://app.test/", paths))
}

fn claims_once(store: &mut MockReminderStore, due: DueUser) {
    let mut batches = vec![vec![], vec![due]];
    store.expect_claim_due().times(2).returning(move |_, _, _| Ok(batches.pop().unwrap()));
}

#[tokio::test]
async fn a_due_user_with_a_birthday_in_their_local_window_gets_one_digest() {
    // 23:30 UTC on 31 December is 08:30 on 1 January in Tokyo: the window is 1–2 January.
    let now = utc("2025-12-31T23:30:00Z");
    let mut store = MockReminderStore::new();
    claims_once(&mut store, user("Asia/Tokyo", 8, 1, true));
    store
        .expect_birthdays()
        .withf(|id, days| *id == UserId(7) && days == [MonthDay { month: 1, day: 1 }, MonthDay { month: 1, day: 2 }])
        .returning(|_, _| {
            let born = NaiveDate::from_ymd_opt(1990, 1, 2).unwrap();
            Ok(vec![BirthdayContact { name: "Bob".into(), birthday: Some(born), birthday_md: MonthDay::of(born) }])
        });
    store
        .expect_complete()
        .withf(move |id, date, mail, next| {
            let mail = mail.as_ref().unwrap();
            *id == UserId(7)
                && *date == NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
                && mail.text.contains("Bob: Friday 2 January, turns 36")
                && mail.text.contains("http://app.test/reminders/unsubscribe?token=TOKEN")
                && *next == Utc.with_ymd_and_hms(2026, 1, 1, 23, 0, 0).unwrap()
        })
        .returning(|_, _, _, _| Ok(true));
    assert_eq!(pass(store).run_at(now).await.unwrap(), 1);
}

#[tokio::test]
async fn a_day_without_birthdays_is_recorded_without_a_mail() {
    let now = utc("2025-06-15T09:00:00Z");
    let mut store = MockReminderStore::new();
    claims_once(&mut store, user("UTC", 8, 0, true));
    store.expect_birthdays().returning(|_, _| Ok(vec![]));
    store
        .expect_complete()
        .withf(|_, date, mail, _| mail.is_none() && *date == NaiveDate::from_ymd_opt(2025, 6, 15).unwrap())
        .returning(|_, _, _, _| Ok(false));
    assert_eq!(pass(store).run_at(now).await.unwrap(), 0);
}

#[tokio::test]
async fn before_the_local_hour_or_unconfirmed_only_reschedules() {
    // 05:30 UTC is 07:30 in Paris in summer: not yet 8.
    let now = utc("2025-06-15T05:30:00Z");
    for (due, next) in [
        (user("Europe/Paris", 8, 1, true), utc("2025-06-15T06:00:00Z")),
        (user("UTC", 0, 1, false), utc("2025-06-16T00:00:00Z")),
    ] {
        let mut store = MockReminderStore::new();
        claims_once(&mut store, due);
        store.expect_reschedule().with(eq(UserId(7)), eq(next)).times(1).returning(|_, _| Ok(()));
        assert_eq!(pass(store).run_at(now).await.unwrap(), 0);
    }
}
