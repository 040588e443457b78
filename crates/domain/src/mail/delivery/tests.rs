use super::*;

use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use mockall::predicate::eq;

use crate::EmailAddress;
use crate::clock::MockClock;
use crate::mail::MockMailer;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
}

fn clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    clock
}

fn mail(attempts: i32, queued_ago: Duration) -> QueuedMail {
    QueuedMail {
        id: 42,
        kind: MailKind::PasswordReset,
        email: Email {
            to: EmailAddress::from_trusted("ada@example.org".to_owned()),
            subject: "Reset your password".to_owned(),
            text: "link".to_owned(),
            html: "<p>link</p>".to_owned(),
            headers: Vec::new(),
        },
        attempts,
        created_at: now() - queued_ago,
    }
}

fn queue_claiming(batch: Vec<QueuedMail>) -> MockDeliveryQueue {
    let mut queue = MockDeliveryQueue::new();
    let settings = DeliverySettings::default();
    queue
        .expect_claim()
        .with(eq(now()), eq(settings.lease), eq(settings.batch))
        .times(1)
        .return_once(move |_, _, _| Ok(batch));
    queue.expect_hold().returning(|_, lease| {
        assert_eq!(lease, DeliverySettings::default().lease);
        Ok(true)
    });
    queue
}

fn failing_mailer() -> MockMailer {
    let mut mailer = MockMailer::new();
    mailer.expect_send().returning(|_, _| Err(Error::unexpected("connection refused")));
    mailer
}

#[test]
fn pauses_grow_from_under_30_seconds_to_at_most_10_minutes() {
    assert!(retry_delay(1) <= Duration::seconds(30));
    assert!(retry_delay(1) > Duration::zero());
    let pauses: Vec<_> = (1..40).map(retry_delay).collect();
    assert!(pauses.windows(2).all(|w| w[0] <= w[1]), "{pauses:?}");
    assert!(retry_delay(2) > retry_delay(1));
    assert_eq!(retry_delay(39), Duration::minutes(10));
    assert_eq!(retry_delay(i32::MAX), Duration::minutes(10));
}

#[tokio::test]
async fn a_sent_mail_is_marked_sent_once() {
    let mut queue = queue_claiming(vec![mail(1, Duration::zero())]);
    queue.expect_mark_sent().times(1).returning(|m, _| {
        assert_eq!(m.id, 42);
        Ok(true)
    });
    queue.expect_retry_at().never();
    queue.expect_give_up().never();
    let sent = Arc::new(Mutex::new(Vec::new()));
    let log = sent.clone();
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(move |email, _| {
        log.lock().unwrap().push(email);
        Ok(())
    });
    let worker = DeliveryWorker::new(queue, mailer, clock(), DeliverySettings::default());
    assert_eq!(worker.deliver_due().await.unwrap(), [Attempt { kind: MailKind::PasswordReset, sent: true }]);
    assert_eq!(sent.lock().unwrap()[0].subject, "Reset your password");
}

#[tokio::test]
async fn a_failed_send_is_retried_after_the_pause_for_its_attempt() {
    let mut queue = queue_claiming(vec![mail(3, Duration::hours(1))]);
    queue.expect_mark_sent().never();
    queue.expect_give_up().never();
    queue.expect_retry_at().times(1).returning(|_, at, error| {
        assert_eq!(at, now() + retry_delay(3));
        assert!(error.contains("connection refused"), "{error}");
        Ok(())
    });
    let worker = DeliveryWorker::new(queue, failing_mailer(), clock(), DeliverySettings::default());
    assert_eq!(worker.deliver_due().await.unwrap(), [Attempt { kind: MailKind::PasswordReset, sent: false }]);
}

#[tokio::test]
async fn a_mail_failing_past_its_retry_window_is_given_up() {
    let mut queue = queue_claiming(vec![mail(150, Duration::hours(24) - Duration::minutes(1))]);
    queue.expect_retry_at().never();
    queue.expect_give_up().times(1).returning(|m, _| {
        assert_eq!(m.id, 42);
        Ok(())
    });
    let worker = DeliveryWorker::new(queue, failing_mailer(), clock(), DeliverySettings::default());
    assert_eq!(worker.deliver_due().await.unwrap(), [Attempt { kind: MailKind::PasswordReset, sent: false }]);
}

#[tokio::test]
async fn the_retry_window_is_configurable() {
    let settings = DeliverySettings { retry_window: Duration::hours(48), ..DeliverySettings::default() };
    let mut queue = MockDeliveryQueue::new();
    queue.expect_claim().return_once(|_, _, _| Ok(vec![mail(150, Duration::hours(24))]));
    queue.expect_hold().returning(|_, _| Ok(true));
    queue.expect_give_up().never();
    queue.expect_retry_at().times(1).returning(|_, _, _| Ok(()));
    let worker = DeliveryWorker::new(queue, failing_mailer(), clock(), settings);
    worker.deliver_due().await.unwrap();
}

#[tokio::test]
async fn an_empty_queue_sends_nothing() {
    let queue = queue_claiming(Vec::new());
    let mut mailer = MockMailer::new();
    mailer.expect_send().never();
    let worker = DeliveryWorker::new(queue, mailer, clock(), DeliverySettings::default());
    assert!(worker.deliver_due().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_mail_whose_claim_was_lost_before_its_turn_is_left_to_the_instance_that_has_it() {
    let mut first = mail(1, Duration::zero());
    first.id = 41;
    let mut queue = MockDeliveryQueue::new();
    queue.expect_claim().return_once(move |_, _, _| Ok(vec![first, mail(1, Duration::zero())]));
    // Mail 41's lease ran out while earlier sends were slow and another instance claimed it.
    queue.expect_hold().returning(|m, _| Ok(m.id != 41));
    queue.expect_mark_sent().times(1).returning(|m, _| {
        assert_eq!(m.id, 42);
        Ok(true)
    });
    let mut mailer = MockMailer::new();
    mailer.expect_send().times(1).returning(|_, _| Ok(()));
    let worker = DeliveryWorker::new(queue, mailer, clock(), DeliverySettings::default());
    assert_eq!(worker.deliver_due().await.unwrap(), [Attempt { kind: MailKind::PasswordReset, sent: true }]);
}

/// Every attempt of one mail is sent under the same key (its row and when it was queued), so
/// the mailer gives each the same `Message-ID`; another mail gets another key.
#[tokio::test]
async fn every_attempt_of_a_mail_is_sent_under_one_key() {
    let keys = Arc::new(Mutex::new(Vec::new()));
    for (attempts, id) in [(1, 42), (2, 42), (1, 43)] {
        let mut queue = queue_claiming(vec![QueuedMail { id, ..mail(attempts, Duration::minutes(5)) }]);
        queue.expect_mark_sent().returning(|_, _| Ok(true));
        let mut mailer = MockMailer::new();
        let seen = keys.clone();
        mailer.expect_send().times(1).returning(move |_, key| {
            seen.lock().unwrap().push(key.to_owned());
            Ok(())
        });
        DeliveryWorker::new(queue, mailer, clock(), DeliverySettings::default()).deliver_due().await.unwrap();
    }
    let queued = (now() - Duration::minutes(5)).timestamp_micros();
    assert_eq!(*keys.lock().unwrap(), [format!("42.{queued}"), format!("42.{queued}"), format!("43.{queued}")]);
}
