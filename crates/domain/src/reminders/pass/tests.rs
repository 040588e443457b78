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
        revision: 4,
    }
}

/// A pass whose real clock says 2030: the passes these tests run are for earlier times.
fn pass(store: MockReminderStore) -> ReminderPass<MockReminderStore, MockTokenCodec, MockClock> {
    pass_when_the_clock_says(store, utc("2030-01-01T00:00:00Z"))
}

/// A pass whose real clock says `real`; the unsubscribe links it signs are issued then.
fn pass_when_the_clock_says(
    store: MockReminderStore,
    real: DateTime<Utc>,
) -> ReminderPass<MockReminderStore, MockTokenCodec, MockClock> {
    let mut tokens = MockTokenCodec::new();
    tokens
        .expect_encode()
        .withf(move |claims| {
            claims.kind == TokenKind::ReminderUnsubscribe
                && claims.subject == UserId(7)
                && (claims.issued_at, claims.expires_at) == (real, real + UNSUBSCRIBE_TTL)
        })
        .returning(|_| Ok("TOKEN".into()));
    let mut clock = MockClock::new();
    clock.expect_now().return_const(real);
    let paths = LinkPaths {
        confirm_email: "/confirm/{token}".into(),
        reset_password: "/reset?token={token}".into(),
        unsubscribe_reminders: "/reminders/unsubscribe?token={token}".into(),
    };
    ReminderPass::new(store, tokens, clock, Links::new("http://app.test/", paths))
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
        .withf(move |id, revision, date, mail, next| {
            let mail = mail.as_ref().unwrap();
            *id == UserId(7)
                && *revision == 4
                && *date == NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()
                && mail.text.contains("Bob: Friday 2 January, turns 36")
                && mail.text.contains("http://app.test/reminders/unsubscribe?token=TOKEN")
                && *next == Utc.with_ymd_and_hms(2026, 1, 1, 23, 0, 0).unwrap()
        })
        .returning(|_, _, _, _, _| Ok(true));
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
        .withf(|_, _, date, mail, _| mail.is_none() && *date == NaiveDate::from_ymd_opt(2025, 6, 15).unwrap())
        .returning(|_, _, _, _, _| Ok(false));
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

#[tokio::test]
async fn a_pass_ahead_of_the_clock_leaves_the_real_days_due() {
    // Tried out on 3 December at 08:31 UTC as if it were 24 December, 09:00.
    let real = utc("2026-12-03T08:31:00Z");
    let trial = utc("2026-12-24T09:00:00Z");
    let today_at_8 = utc("2026-12-03T08:00:00Z");
    let mut store = MockReminderStore::new();
    claims_once(&mut store, user("UTC", 8, 1, true));
    store.expect_birthdays().returning(|_, _| {
        let born = NaiveDate::from_ymd_opt(1990, 12, 24).unwrap();
        Ok(vec![BirthdayContact { name: "Bob".into(), birthday: Some(born), birthday_md: MonthDay::of(born) }])
    });
    // The trial's day is recorded and mailed, the user moved past the trial's time (so the pass
    // does not take them again), and once the pass is done they are due again from today's
    // 08:00: the real today's digest, if not sent yet, still goes out.
    let mut sequence = mockall::Sequence::new();
    store
        .expect_complete()
        .withf(move |_, _, date, mail, next| {
            *date == NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()
                && mail.is_some()
                && *next == utc("2026-12-25T08:00:00Z")
        })
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_, _, _, _, _| Ok(true));
    store
        .expect_reschedule()
        .with(eq(UserId(7)), eq(today_at_8))
        .times(1)
        .in_sequence(&mut sequence)
        .returning(|_, _| Ok(()));
    assert_eq!(pass_when_the_clock_says(store, real).run_at(trial).await.unwrap(), 1);

    // Before the user's hour on the trial's day: rescheduled to it, then to the real today's.
    let mut store = MockReminderStore::new();
    claims_once(&mut store, user("UTC", 8, 1, true));
    let mut sequence = mockall::Sequence::new();
    for at in [utc("2026-12-24T08:00:00Z"), today_at_8] {
        store
            .expect_reschedule()
            .with(eq(UserId(7)), eq(at))
            .times(1)
            .in_sequence(&mut sequence)
            .returning(|_, _| Ok(()));
    }
    assert_eq!(pass_when_the_clock_says(store, real).run_at(utc("2026-12-24T07:00:00Z")).await.unwrap(), 0);

    // A pass at the clock's own time moves the user on to tomorrow and leaves them there.
    let mut store = MockReminderStore::new();
    claims_once(&mut store, user("UTC", 8, 1, true));
    store.expect_birthdays().returning(|_, _| Ok(vec![]));
    store
        .expect_complete()
        .withf(|_, _, _, _, next| *next == utc("2026-12-04T08:00:00Z"))
        .returning(|_, _, _, _, _| Ok(false));
    store.expect_reschedule().never();
    assert_eq!(pass_when_the_clock_says(store, real).run_at(real).await.unwrap(), 0);
}
