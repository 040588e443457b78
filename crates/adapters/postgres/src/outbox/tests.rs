use super::*;

use chrono::Utc;

use contacts_domain::mail::MailOutbox;

use crate::test_fixtures::{email, execute_sql, migrated_db};

fn mail_to(address: &str) -> Email {
    Email {
        to: email(address),
        subject: "Hello".to_owned(),
        text: "text".to_owned(),
        html: "<p>html</p>".to_owned(),
        headers: Vec::new(),
    }
}

fn outbox(db: &Database, cooldown_seconds: u64, daily_limit: u64) -> PgMailOutbox {
    PgMailOutbox::new(db.clone(), FloodGuard { cooldown_seconds, daily_limit })
}

/// Ends every lease now, by PostgreSQL's clock, as if their holders had died long ago: leases
/// are timed by the database, so a test cannot run them out by passing a later `now`.
async fn run_out_leases(db: &Database) {
    let mut conn = db.conn().await.unwrap();
    diesel::sql_query("UPDATE mail_outbox SET leased_until = now() WHERE leased_until > now()")
        .execute(&mut conn)
        .await
        .unwrap();
}

/// Mails whose text or headers are still kept (their links carry live tokens).
async fn mails_with_text(db: &Database) -> i64 {
    let mut conn = db.conn().await.unwrap();
    let kept: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM mail_outbox WHERE text_body <> '' OR html_body <> '' OR headers <> '[]'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    kept.n
}

#[tokio::test(flavor = "multi_thread")]
async fn a_claimed_mail_is_not_claimed_again_until_its_lease_runs_out_whatever_the_claimers_clock() {
    let (_test_db, db) = migrated_db().await;
    let outbox = outbox(&db, 0, 10);
    assert!(outbox.queue(MailKind::Confirmation, mail_to("a@example.org"), MailEffect::None).await.unwrap());
    let now = Utc::now() + Duration::seconds(1);

    let first = outbox.claim(now, Duration::seconds(60), 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].attempts, first[0].email.to.as_str()), (1, "a@example.org"));
    assert!(outbox.claim(now, Duration::seconds(60), 10).await.unwrap().is_empty(), "leased");
    assert!(
        outbox.claim(now + Duration::minutes(10), Duration::seconds(60), 10).await.unwrap().is_empty(),
        "still leased for an instance whose clock runs ten minutes ahead"
    );
    run_out_leases(&db).await;
    let later = outbox.claim(now, Duration::seconds(60), 10).await.unwrap();
    assert_eq!(later.len(), 1, "a dead worker's lease runs out");
    assert_eq!(later[0].attempts, 2);

    assert!(!outbox.mark_sent(&first[0], now).await.unwrap(), "the first claim was lost");
    assert_eq!(outbox.pending().await.unwrap(), 1, "claimed is still pending");
    assert_eq!(mails_with_text(&db).await, 1, "a pending mail keeps what it is to send");
    assert!(outbox.mark_sent(&later[0], now).await.unwrap());
    assert_eq!(outbox.pending().await.unwrap(), 0);
    assert_eq!(mails_with_text(&db).await, 0, "a sent mail's links (live tokens) are not kept");
    run_out_leases(&db).await;
    assert!(outbox.claim(now + Duration::hours(1), Duration::seconds(60), 10).await.unwrap().is_empty(), "sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mail_is_due_by_the_database_clock_for_an_instance_whose_clock_lags() {
    let (_test_db, db) = migrated_db().await;
    let outbox = outbox(&db, 0, 10);
    assert!(outbox.queue(MailKind::Confirmation, mail_to("a@example.org"), MailEffect::None).await.unwrap());
    let lagging = Utc::now() - Duration::minutes(10);
    assert_eq!(outbox.claim(lagging, Duration::seconds(60), 10).await.unwrap().len(), 1, "sent at once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_mail_stays_its_claimers_and_a_lost_claim_cannot_be_held() {
    let (_test_db, db) = migrated_db().await;
    let outbox = outbox(&db, 0, 10);
    assert!(outbox.queue(MailKind::Confirmation, mail_to("a@example.org"), MailEffect::None).await.unwrap());
    let now = Utc::now() + Duration::seconds(1);
    let mine = outbox.claim(now, Duration::seconds(1), 10).await.unwrap().remove(0);

    // Slow sends later, the mail is held for another minute before its turn: it outlives the
    // claim's lease of one second.
    assert!(outbox.hold(&mine, Duration::seconds(60)).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert!(outbox.claim(now, Duration::seconds(60), 10).await.unwrap().is_empty(), "held past the first lease");
    run_out_leases(&db).await;
    let theirs = outbox.claim(now, Duration::seconds(60), 10).await.unwrap().remove(0);
    assert_eq!(theirs.attempts, 2, "the hold ran out too: another instance claims it");
    assert!(!outbox.hold(&mine, Duration::seconds(60)).await.unwrap(), "mine is lost");
    assert!(outbox.hold(&theirs, Duration::seconds(60)).await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_claims_never_share_a_mail() {
    let (_test_db, db) = migrated_db().await;
    let outbox = outbox(&db, 0, 100);
    for i in 0..40 {
        let address = format!("u{i}@example.org");
        assert!(outbox.queue(MailKind::Confirmation, mail_to(&address), MailEffect::None).await.unwrap());
    }
    let now = Utc::now() + Duration::seconds(1);
    let claims = (0..8).map(|_| {
        let outbox = outbox.clone();
        tokio::spawn(async move { outbox.claim(now, Duration::seconds(60), 3).await.unwrap() })
    });
    let mut ids: Vec<i64> = Vec::new();
    for claim in claims {
        ids.extend(claim.await.unwrap().into_iter().map(|m| m.id));
    }
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "no mail claimed twice");
    assert_eq!(count, 24, "SKIP LOCKED passes over held rows instead of coming back empty");
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_wait_and_given_up_mails_stay_failed() {
    let (_test_db, db) = migrated_db().await;
    let outbox = outbox(&db, 0, 10);
    outbox.queue(MailKind::PasswordReset, mail_to("a@example.org"), MailEffect::None).await.unwrap();
    let now = Utc::now() + Duration::seconds(1);
    let mail = outbox.claim(now, Duration::seconds(60), 1).await.unwrap().remove(0);
    outbox.retry_at(&mail, now + Duration::seconds(5), "connection refused").await.unwrap();
    assert!(outbox.claim(now + Duration::seconds(4), Duration::seconds(60), 1).await.unwrap().is_empty());
    let again = outbox.claim(now + Duration::seconds(5), Duration::seconds(60), 1).await.unwrap().remove(0);
    assert_eq!(again.kind, MailKind::PasswordReset);
    outbox.give_up(&again, "still refused").await.unwrap();
    assert_eq!(mails_with_text(&db).await, 0, "nor a given-up one's");
    assert!(outbox.claim(now + Duration::days(2), Duration::seconds(60), 1).await.unwrap().is_empty());
    assert_eq!(outbox.purge(now + Duration::days(1)).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flood_guard_holds_back_mails_within_the_cooldown_and_past_the_daily_cap() {
    let (_test_db, db) = migrated_db().await;
    let cooled = outbox(&db, 60, 10);
    assert!(cooled.queue(MailKind::Confirmation, mail_to("a@example.org"), MailEffect::None).await.unwrap());
    assert!(!cooled.queue(MailKind::Confirmation, mail_to("A@Example.org"), MailEffect::None).await.unwrap());
    assert!(cooled.queue(MailKind::Confirmation, mail_to("b@example.org"), MailEffect::None).await.unwrap());

    let capped = outbox(&db, 0, 3);
    let results: Vec<bool> = {
        let mut results = Vec::new();
        for _ in 0..5 {
            results
                .push(capped.queue(MailKind::Confirmation, mail_to("c@example.org"), MailEffect::None).await.unwrap());
        }
        results
    };
    assert_eq!(results, [true, true, true, false, false]);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_requests_cannot_exceed_the_cap() {
    let (_test_db, db) = migrated_db().await;
    assert_eq!(queue_at_once(&outbox(&db, 0, 3), "c@example.org", 12).await, 3);
}

/// Queues `requests` mails to `address` at once (every task spawned before any is awaited), and
/// answers how many were queued.
async fn queue_at_once(outbox: &PgMailOutbox, address: &str, requests: usize) -> usize {
    let tasks: Vec<_> = (0..requests)
        .map(|_| {
            let (outbox, address) = (outbox.clone(), address.to_owned());
            tokio::spawn(async move {
                outbox.queue(MailKind::Confirmation, mail_to(&address), MailEffect::None).await.unwrap()
            })
        })
        .collect();
    let mut queued = 0;
    for task in tasks {
        queued += usize::from(task.await.unwrap());
    }
    queued
}

/// `now()` is when a transaction began, and the quota row is judged when its lock is had: a
/// request that began first may find the row stamped by one that began after it. With the
/// cooldown off (`0`), that must not hold its mail back (it did, about one mail in ten of a
/// client's back-to-back requests).
#[tokio::test(flavor = "multi_thread")]
async fn without_a_cooldown_a_stamp_later_than_this_request_holds_nothing_back() {
    let (_test_db, db) = migrated_db().await;
    let uncooled = outbox(&db, 0, 100);
    assert!(uncooled.queue(MailKind::Confirmation, mail_to("d@example.org"), MailEffect::None).await.unwrap());
    execute_sql(&db, "UPDATE mail_quota SET last_at = now() + interval '5 seconds'").await.unwrap();
    assert!(uncooled.queue(MailKind::Confirmation, mail_to("d@example.org"), MailEffect::None).await.unwrap());
    // The stamp never moves back, so a cooldown still counts from the latest mail.
    let later: i64 = {
        let mut conn = db.conn().await.unwrap();
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
            "(SELECT count(*) FROM mail_quota WHERE last_at > now() + interval '4 seconds')",
        ))
        .get_result(&mut conn)
        .await
        .unwrap()
    };
    assert_eq!(later, 1);

    assert_eq!(queue_at_once(&uncooled, "e@example.org", 12).await, 12, "concurrent requests under the cap all send");
}

#[tokio::test(flavor = "multi_thread")]
async fn decoy_work_never_holds_a_real_mail_back() {
    let (_test_db, db) = migrated_db().await;
    let outbox = outbox(&db, 60, 10);
    outbox.queue_nothing(&email("a@example.org")).await.unwrap();
    assert!(outbox.queue(MailKind::Confirmation, mail_to("a@example.org"), MailEffect::None).await.unwrap());
    assert!(outbox.claim(Utc::now() + Duration::seconds(1), Duration::seconds(60), 10).await.unwrap().len() == 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_token_is_stored_with_its_mail_and_only_then() {
    use contacts_domain::auth::TokenStore;

    let (_test_db, db) = migrated_db().await;
    let user = crate::test_fixtures::create_user(&db, "ada").await;
    let outbox = outbox(&db, 60, 10);
    let tokens = crate::PgTokenStore::new(db.clone());
    let expires_at = Utc::now() + Duration::hours(1);
    let reset = |fingerprint: &str| MailEffect::StoreReset { user, fingerprint: fingerprint.to_owned(), expires_at };

    assert!(outbox.queue(MailKind::PasswordReset, mail_to("ada@example.com"), reset("first")).await.unwrap());
    // Within the cooldown: neither the mail nor the token it would carry.
    assert!(!outbox.queue(MailKind::PasswordReset, mail_to("ada@example.com"), reset("second")).await.unwrap());

    assert_eq!(tokens.consume_reset("first", Utc::now()).await.unwrap(), Some(user));
    assert_eq!(tokens.consume_reset("second", Utc::now()).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_registration_and_its_mail_are_stored_together_or_not_at_all() {
    struct Composer(Result<(), ()>);
    impl MailComposer for Composer {
        fn compose(&self, user: &User) -> Result<Email, Error> {
            self.0.map_err(|()| Error::unexpected("cannot sign"))?;
            Ok(mail_to(user.email.as_str()))
        }
    }
    let (_test_db, db) = migrated_db().await;
    let outbox = outbox(&db, 60, 10);
    let new_user = crate::test_fixtures::new_user("ada", "ada@example.org");

    assert!(outbox.register(new_user.clone(), &Composer(Err(()))).await.is_err());
    let user = outbox.register(new_user.clone(), &Composer(Ok(()))).await.expect("nothing was left behind");
    assert_eq!(user.username, "ada");
    let claimed = outbox.claim(Utc::now() + Duration::seconds(1), Duration::seconds(60), 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].kind, claimed[0].email.to.as_str()), (MailKind::Confirmation, "ada@example.org"));
    assert!(matches!(outbox.register(new_user, &Composer(Ok(()))).await, Err(Error::Conflict(_))));
}

/// A recorded mail request is its instance's for a minute; then any instance may claim it, one
/// at a time; once handled it is gone; one older than an hour is dropped, not claimed.
#[tokio::test(flavor = "multi_thread")]
async fn a_mail_request_left_by_its_instance_is_claimed_once_then_forgotten() {
    let (_test_db, db) = migrated_db().await;
    let outbox = outbox(&db, 60, 10);
    let reset = outbox.record_request(MailKind::PasswordReset, &email("a@example.org")).await.unwrap();
    assert_eq!((reset.kind, reset.address.as_str()), (MailKind::PasswordReset, "a@example.org"));
    assert!(
        outbox.claim_requests(Utc::now(), Duration::seconds(60), 10).await.unwrap().is_empty(),
        "its own instance handles it"
    );

    let leases_run_out = "UPDATE mail_requests SET leased_until = now()";
    execute_sql(&db, leases_run_out).await.unwrap();
    let (first, second) = tokio::join!(
        outbox.claim_requests(Utc::now(), Duration::seconds(60), 10),
        outbox.claim_requests(Utc::now(), Duration::seconds(60), 10)
    );
    let mut claimed = first.unwrap();
    claimed.extend(second.unwrap());
    assert_eq!(claimed, vec![reset.clone()], "claimed by one claimer only");
    outbox.request_handled(reset.id).await.unwrap();
    execute_sql(&db, leases_run_out).await.unwrap();
    assert!(outbox.claim_requests(Utc::now(), Duration::seconds(60), 10).await.unwrap().is_empty(), "handled: gone");

    let stale = outbox.record_request(MailKind::Confirmation, &email("b@example.org")).await.unwrap();
    execute_sql(&db, "UPDATE mail_requests SET leased_until = now(), created_at = now() - interval '61 minutes'")
        .await
        .unwrap();
    assert!(
        outbox.claim_requests(Utc::now(), Duration::seconds(60), 10).await.unwrap().is_empty(),
        "an hour old: no longer awaited"
    );
    let left = execute_sql(&db, &format!("DELETE FROM mail_requests WHERE id = {}", stale.id)).await.unwrap();
    assert_eq!(left, 0, "and dropped");
}
