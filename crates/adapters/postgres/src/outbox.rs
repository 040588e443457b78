//! [`PgMailOutbox`]: the mail outbox on PostgreSQL. Queuing is one statement (or one
//! transaction with the change it announces) that also applies the flood guard; delivery claims
//! rows with `FOR UPDATE SKIP LOCKED` and a lease, so instances sharing the database never take
//! the same mail.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Double, Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::Notify;

use contacts_domain::email::fold_case;
use contacts_domain::mail::Email;
use contacts_domain::mail::{
    DeliveryQueue, MAIL_REQUEST_LEASE_SECONDS, MailComposer, MailEffect, MailKind, MailOutbox, MailRequest, QueuedMail,
};
use contacts_domain::user::{NewUser, User};
use contacts_domain::{EmailAddress, Error};

use crate::error::query_error;
use crate::leases;
use crate::pool::Database;
use crate::schema::users;
use crate::users::{NewUserRow, UserRow};

/// The flood guard's limits per recipient address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodGuard {
    /// Least time between two mails to one address, seconds; 0 turns the cooldown off.
    pub cooldown_seconds: u64,
    /// Most mails to one address in one UTC day.
    pub daily_limit: u64,
}

impl Default for FloodGuard {
    fn default() -> Self {
        Self { cooldown_seconds: 60, daily_limit: 10 }
    }
}

/// The outbox: queued mails, the flood guard's counts, and the worker's claims.
#[derive(Debug, Clone)]
pub struct PgMailOutbox {
    db: Database,
    guard: FloodGuard,
    queued: Arc<Notify>,
}

impl PgMailOutbox {
    /// An outbox on the shared pool, guarding against floods with `guard`.
    pub fn new(db: Database, guard: FloodGuard) -> Self {
        Self { db, guard, queued: Arc::new(Notify::new()) }
    }

    /// Notified whenever this process has queued a mail, so the delivery worker can send it at
    /// once instead of at its next poll.
    pub fn queued(&self) -> Arc<Notify> {
        self.queued.clone()
    }
}

/// The flood guard and the inserts, in one statement: the per-address count is an upsert whose
/// `WHERE` refuses the update when the cooldown or the cap would be broken, and it holds the
/// row lock until commit, so concurrent requests for one address are judged one after the
/// other. The mail is inserted only if the count moved, the reset token only if the mail was.
const QUEUE_SQL: &str = "
WITH allowed AS (
    INSERT INTO mail_quota AS q (recipient, day, sent, last_at)
    VALUES ($1, (now() AT TIME ZONE 'UTC')::date, 1, now())
    ON CONFLICT (recipient) DO UPDATE
       SET sent = CASE WHEN q.day = EXCLUDED.day THEN q.sent + 1 ELSE 1 END,
           day = EXCLUDED.day,
           last_at = GREATEST(q.last_at, EXCLUDED.last_at)
     WHERE ($2 = 0 OR q.last_at <= EXCLUDED.last_at - make_interval(secs => $2))
       AND (q.day <> EXCLUDED.day OR q.sent < $3)
    RETURNING 1
), mail AS (
    INSERT INTO mail_outbox (kind, recipient, subject, text_body, html_body)
    SELECT $4, $5, $6, $7, $8 FROM allowed WHERE $9
    RETURNING id
), reset AS (
    INSERT INTO password_reset_tokens (user_id, token_hash, expires_at)
    SELECT $10, $11, $12 FROM mail WHERE $10 IS NOT NULL
    RETURNING id
)
SELECT (SELECT count(*) FROM mail) AS queued, (SELECT count(*) FROM reset) AS resets";

#[derive(QueryableByName)]
struct Queued {
    #[diesel(sql_type = BigInt)]
    queued: i64,
}

/// The flood-guard key of a recipient; addresses that get no mail are counted under a key
/// no real address has (a leading space), so the decoy work never holds a real mail back.
fn quota_key(address: &EmailAddress, real: bool) -> String {
    let lower = fold_case(address.as_str());
    if real { lower } else { format!(" {lower}") }
}

impl PgMailOutbox {
    async fn queue_in(
        &self,
        conn: &mut AsyncPgConnection,
        kind: MailKind,
        email: Option<&Email>,
        key: String,
        effect: &MailEffect,
    ) -> QueryResult<bool> {
        let (user, fingerprint, expires_at) = match effect {
            MailEffect::None => (None, None, None),
            MailEffect::StoreReset { user, fingerprint, expires_at } => {
                (Some(user.0), Some(fingerprint.as_str()), Some(*expires_at))
            }
        };
        let cooldown = self.guard.cooldown_seconds as f64;
        let limit = i32::try_from(self.guard.daily_limit).unwrap_or(i32::MAX);
        let row: Queued = diesel::sql_query(QUEUE_SQL)
            .bind::<Text, _>(key)
            .bind::<Double, _>(cooldown)
            .bind::<Integer, _>(limit)
            .bind::<Text, _>(kind.as_str())
            .bind::<Text, _>(email.map_or("", |e| e.to.as_str()))
            .bind::<Text, _>(email.map_or("", |e| e.subject.as_str()))
            .bind::<Text, _>(email.map_or("", |e| e.text.as_str()))
            .bind::<Text, _>(email.map_or("", |e| e.html.as_str()))
            .bind::<Bool, _>(email.is_some())
            .bind::<Nullable<BigInt>, _>(user)
            .bind::<Nullable<Text>, _>(fingerprint)
            .bind::<Nullable<Timestamptz>, _>(expires_at)
            .get_result(conn)
            .await?;
        Ok(row.queued > 0)
    }
}

/// A failure inside the registration transaction: the database's, or the composer's.
enum TxError {
    Db(diesel::result::Error),
    Domain(Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Db(error)
    }
}

impl MailOutbox for PgMailOutbox {
    async fn register(&self, new_user: NewUser, composer: &dyn MailComposer) -> Result<User, Error> {
        let mut conn = self.db.conn().await?;
        let result = conn
            .transaction::<_, TxError, _>(async |conn| {
                let row = NewUserRow {
                    username: new_user.username.as_str(),
                    email: new_user.email.as_str(),
                    password_hash: &new_user.password_hash.0,
                    avatar: &new_user.avatar,
                };
                let user: User = diesel::insert_into(users::table)
                    .values(row)
                    .returning(UserRow::as_returning())
                    .get_result(conn)
                    .await?
                    .try_into()
                    .map_err(TxError::Domain)?;
                let email = composer.compose(&user).map_err(TxError::Domain)?;
                let key = quota_key(&email.to, true);
                let queued = self.queue_in(conn, MailKind::Confirmation, Some(&email), key, &MailEffect::None).await?;
                Ok((user, queued))
            })
            .await;
        match result {
            Ok((user, queued)) => {
                if queued {
                    tracing::info!(user_id = %user.id, "confirmation mail queued");
                    self.queued.notify_one();
                } else {
                    tracing::info!(user_id = %user.id, "confirmation mail held back by the flood guard");
                }
                Ok(user)
            }
            Err(TxError::Db(error)) => Err(query_error(error)),
            Err(TxError::Domain(error)) => Err(error),
        }
    }

    async fn queue(&self, kind: MailKind, email: Email, effect: MailEffect) -> Result<bool, Error> {
        let mut conn = self.db.conn().await?;
        let key = quota_key(&email.to, true);
        let queued = self.queue_in(&mut conn, kind, Some(&email), key, &effect).await.map_err(query_error)?;
        if queued {
            self.queued.notify_one();
        }
        Ok(queued)
    }

    async fn queue_nothing(&self, address: &EmailAddress) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        let key = quota_key(address, false);
        self.queue_in(&mut conn, MailKind::Confirmation, None, key, &MailEffect::None)
            .await
            .map(|_| ())
            .map_err(query_error)
    }

    async fn record_request(&self, kind: MailKind, address: &EmailAddress) -> Result<MailRequest, Error> {
        let mut conn = self.db.conn().await?;
        let row: RequestRow = diesel::sql_query(
            "INSERT INTO mail_requests (kind, address, leased_until) \
             VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING id, kind, address",
        )
        .bind::<Text, _>(kind.as_str())
        .bind::<Text, _>(address.as_str())
        .bind::<Double, _>(MAIL_REQUEST_LEASE_SECONDS as f64)
        .get_result(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(row.into())
    }

    async fn request_handled(&self, id: i64) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query("DELETE FROM mail_requests WHERE id = $1")
            .bind::<BigInt, _>(id)
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(query_error)
    }

    async fn claim_requests(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<MailRequest>, Error> {
        let rows: Vec<RequestRow> = leases::claim(&self.db, CLAIM_REQUESTS_SQL, now, lease, limit).await?;
        Ok(rows.into_iter().map(MailRequest::from).collect())
    }
}

/// Drops the requests nobody holds that are more than an hour old (by the claimer's clock or
/// PostgreSQL's, whichever is later), and leases up to `$3` of the others nobody holds for `$2`
/// seconds by PostgreSQL's clock, in one statement (see [`leases::claim`]).
const CLAIM_REQUESTS_SQL: &str = "
WITH dropped AS (
       DELETE FROM mail_requests
        WHERE leased_until <= now() AND created_at < GREATEST($1, now()) - interval '1 hour')
UPDATE mail_requests
   SET leased_until = now() + make_interval(secs => $2)
 WHERE id IN (
       SELECT id FROM mail_requests
        WHERE leased_until <= now() AND created_at >= GREATEST($1, now()) - interval '1 hour'
        ORDER BY id
        LIMIT $3
          FOR UPDATE SKIP LOCKED)
RETURNING id, kind, address";

#[derive(QueryableByName)]
struct RequestRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    address: String,
}

impl From<RequestRow> for MailRequest {
    fn from(row: RequestRow) -> Self {
        MailRequest {
            id: row.id,
            kind: MailKind::parse(&row.kind).unwrap_or(MailKind::Confirmation),
            // Stored from a parsed address.
            address: EmailAddress::from_trusted(row.address),
        }
    }
}

/// Claims due mails and leases them, in one statement. A mail is due once `next_attempt_at` has
/// passed by the claimer's clock or PostgreSQL's, whichever is later (an instance whose clock lags
/// does not hold mail back); the lease is timed by PostgreSQL's clock alone (`leased_until`), so
/// instances whose clocks disagree still never take a mail another holds. A mail about an account
/// (a reminder) whose account is no longer confirmed is dropped instead: it is never sent, even if
/// the account is confirmed again later (the digest would be stale). Deleting the account deletes
/// its mails (ON DELETE CASCADE).
const CLAIM_SQL: &str = "
WITH dropped AS (
       DELETE FROM mail_outbox m
        WHERE m.status = 'pending' AND m.next_attempt_at <= GREATEST($1, now()) AND m.leased_until <= now()
          AND m.user_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.user_id AND u.confirmed))
UPDATE mail_outbox
   SET attempts = attempts + 1, leased_until = now() + make_interval(secs => $2)
 WHERE id IN (
       SELECT id FROM mail_outbox
        WHERE status = 'pending' AND next_attempt_at <= GREATEST($1, now()) AND leased_until <= now()
          AND (user_id IS NULL OR EXISTS (SELECT 1 FROM users u WHERE u.id = user_id AND u.confirmed))
        ORDER BY next_attempt_at, id
        LIMIT $3
          FOR UPDATE SKIP LOCKED)
RETURNING id, kind, recipient, subject, text_body, html_body, headers::text AS headers, attempts, created_at";

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    recipient: String,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Text)]
    text_body: String,
    #[diesel(sql_type = Text)]
    html_body: String,
    #[diesel(sql_type = Text)]
    headers: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl DeliveryQueue for PgMailOutbox {
    async fn claim(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<QueuedMail>, Error> {
        let rows: Vec<ClaimedRow> = leases::claim(&self.db, CLAIM_SQL, now, lease, limit).await?;
        let mut claimed: Vec<QueuedMail> = rows
            .into_iter()
            .map(|row| QueuedMail {
                id: row.id,
                kind: MailKind::parse(&row.kind).unwrap_or(MailKind::Confirmation),
                email: Email {
                    to: EmailAddress::from_trusted(row.recipient),
                    subject: row.subject,
                    text: row.text_body,
                    html: row.html_body,
                    headers: serde_json::from_str(&row.headers).unwrap_or_default(),
                },
                attempts: row.attempts,
                created_at: row.created_at,
            })
            .collect();
        claimed.sort_by_key(|mail| mail.id);
        Ok(claimed)
    }

    async fn hold(&self, mail: &QueuedMail, lease: Duration) -> Result<bool, Error> {
        let mut conn = self.db.conn().await?;
        // `attempts` names the claim (each claim counts one): a mail claimed again by another
        // instance has moved on, and this update finds nothing.
        let held = diesel::sql_query(
            "UPDATE mail_outbox SET leased_until = now() + make_interval(secs => $2) \
             WHERE id = $1 AND attempts = $3 AND status = 'pending'",
        )
        .bind::<BigInt, _>(mail.id)
        .bind::<Double, _>(lease.num_milliseconds() as f64 / 1000.0)
        .bind::<Integer, _>(mail.attempts)
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(held == 1)
    }

    async fn mark_sent(&self, mail: &QueuedMail, now: DateTime<Utc>) -> Result<bool, Error> {
        let mut conn = self.db.conn().await?;
        let updated = diesel::sql_query(
            "UPDATE mail_outbox SET status = 'sent', sent_at = $2, last_error = NULL, \
             text_body = '', html_body = '', headers = '[]' \
             WHERE id = $1 AND attempts = $3 AND status = 'pending'",
        )
        .bind::<BigInt, _>(mail.id)
        .bind::<Timestamptz, _>(now)
        .bind::<Integer, _>(mail.attempts)
        .execute(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(updated == 1)
    }

    async fn retry_at(&self, mail: &QueuedMail, at: DateTime<Utc>, error: &str) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query(
            "UPDATE mail_outbox SET next_attempt_at = $2, leased_until = '-infinity', last_error = $3 \
             WHERE id = $1 AND attempts = $4 AND status = 'pending'",
        )
        .bind::<BigInt, _>(mail.id)
        .bind::<Timestamptz, _>(at)
        .bind::<Text, _>(error)
        .bind::<Integer, _>(mail.attempts)
        .execute(&mut conn)
        .await
        .map(|_| ())
        .map_err(query_error)
    }

    async fn give_up(&self, mail: &QueuedMail, error: &str) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query(
            "UPDATE mail_outbox SET status = 'failed', last_error = $2, \
             text_body = '', html_body = '', headers = '[]' \
             WHERE id = $1 AND attempts = $3 AND status = 'pending'",
        )
        .bind::<BigInt, _>(mail.id)
        .bind::<Text, _>(error)
        .bind::<Integer, _>(mail.attempts)
        .execute(&mut conn)
        .await
        .map(|_| ())
        .map_err(query_error)
    }

    async fn pending(&self) -> Result<u64, Error> {
        let mut conn = self.db.conn().await?;
        // Served by the partial index of pending mails.
        let pending: Count = diesel::sql_query("SELECT count(*) AS n FROM mail_outbox WHERE status = 'pending'")
            .get_result(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(pending.n as u64)
    }

    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, Error> {
        let mut conn = self.db.conn().await?;
        let mails = diesel::sql_query("DELETE FROM mail_outbox WHERE status <> 'pending' AND created_at < $1")
            .bind::<Timestamptz, _>(before)
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        diesel::sql_query("DELETE FROM mail_quota WHERE day < (now() AT TIME ZONE 'UTC')::date")
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(mails as u64)
    }
}

#[cfg(test)]
mod tests;
