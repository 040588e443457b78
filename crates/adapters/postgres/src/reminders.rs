//! [`PgReminderStore`]: who is due for a birthday digest, their birthdays, and the record of
//! each (user, local date) run, queued with its mail in one transaction.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel::QueryableByName;
use diesel::result::{OptionalExtension, QueryResult};
use diesel::sql_types::{Array, BigInt, Bool, Date, Jsonb, Nullable, SmallInt, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use tokio::sync::Notify;

use contacts_domain::contact::MonthDay;
use contacts_domain::mail::Email;
use contacts_domain::mail::MailKind;
use contacts_domain::reminders::{
    BirthdayContact, DueUser, ReminderDays, ReminderHour, ReminderSettings, ReminderStore, SettingsPatch, TimeZoneName,
};
use contacts_domain::user::UserId;
use contacts_domain::{EmailAddress, Error};

use crate::error::query_error;
use crate::leases;
use crate::pool::Database;

/// Reminder settings and runs on PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgReminderStore {
    db: Database,
    queued: Arc<Notify>,
}

impl PgReminderStore {
    /// A store on the shared pool; `queued` wakes this process's delivery worker (see
    /// [`PgMailOutbox::queued`](crate::PgMailOutbox::queued)) when a digest is queued.
    pub fn new(db: Database, queued: Arc<Notify>) -> Self {
        Self { db, queued }
    }
}

/// Claims due users: one range scan of the partial index on `next_run_at`, so a pass that finds
/// nobody due reads nothing else; the claim pushes `next_run_at` past the lease.
const CLAIM_SQL: &str = "
UPDATE user_settings s
   SET next_run_at = $1 + make_interval(secs => $2)
  FROM users u
 WHERE u.id = s.user_id
   AND s.user_id IN (
       SELECT user_id FROM user_settings
        WHERE birthday_reminders AND next_run_at <= $1
        ORDER BY next_run_at
        LIMIT $3
          FOR UPDATE SKIP LOCKED)
RETURNING s.user_id, u.email, u.username, u.confirmed, s.timezone, s.birthday_reminders, s.reminder_days,
          s.reminder_hour, s.revision";

#[derive(QueryableByName)]
struct SettingsRow {
    #[diesel(sql_type = Text)]
    timezone: String,
    #[diesel(sql_type = Bool)]
    birthday_reminders: bool,
    #[diesel(sql_type = SmallInt)]
    reminder_days: i16,
    #[diesel(sql_type = SmallInt)]
    reminder_hour: i16,
}

impl SettingsRow {
    fn settings(&self) -> Result<ReminderSettings, Error> {
        let invalid = |e: contacts_domain::FieldError| Error::unexpected(std::io::Error::other(e.field()));
        Ok(ReminderSettings {
            timezone: TimeZoneName::parse(&self.timezone).map_err(invalid)?,
            birthday_reminders: self.birthday_reminders,
            reminder_days: ReminderDays::parse(self.reminder_days.into()).map_err(invalid)?,
            reminder_hour: ReminderHour::parse(self.reminder_hour.into()).map_err(invalid)?,
        })
    }
}

#[derive(QueryableByName)]
struct DueRow {
    #[diesel(sql_type = BigInt)]
    user_id: i64,
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = Bool)]
    confirmed: bool,
    #[diesel(embed)]
    settings: SettingsRow,
    #[diesel(sql_type = BigInt)]
    revision: i64,
}

#[derive(QueryableByName)]
struct BirthdayRow {
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Nullable<Date>)]
    birthday: Option<NaiveDate>,
    #[diesel(sql_type = SmallInt)]
    birthday_md: i16,
}

#[derive(QueryableByName)]
struct Inserted {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl ReminderStore for PgReminderStore {
    async fn settings(&self, user: UserId) -> Result<ReminderSettings, Error> {
        PgReminderStore::settings(self, user).await
    }

    async fn update_settings(&self, user: UserId, patch: SettingsPatch) -> Result<ReminderSettings, Error> {
        PgReminderStore::update_settings(self, user, patch).await
    }

    async fn claim_due(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<DueUser>, Error> {
        let rows: Vec<DueRow> = leases::claim(&self.db, CLAIM_SQL, now, lease, limit).await?;
        rows.into_iter()
            .map(|row| {
                Ok(DueUser {
                    id: UserId(row.user_id),
                    email: EmailAddress::from_trusted(row.email),
                    username: row.username,
                    confirmed: row.confirmed,
                    settings: row.settings.settings()?,
                    revision: row.revision,
                })
            })
            .collect()
    }

    async fn birthdays(&self, user: UserId, days: &[MonthDay]) -> Result<Vec<BirthdayContact>, Error> {
        let mut conn = self.db.conn().await?;
        let codes: Vec<i16> = days.iter().map(|md| (md.month * 100 + md.day) as i16).collect();
        // Served by the (user_id, birthday_md) index.
        let rows: Vec<BirthdayRow> = diesel::sql_query(
            "SELECT first_name, last_name, birthday, birthday_md FROM contacts \
             WHERE user_id = $1 AND birthday_md = ANY($2) ORDER BY id",
        )
        .bind::<BigInt, _>(user.0)
        .bind::<Array<SmallInt>, _>(codes)
        .load(&mut conn)
        .await
        .map_err(query_error)?;
        Ok(rows
            .into_iter()
            .map(|row| BirthdayContact {
                name: format!("{} {}", row.first_name, row.last_name).trim().to_owned(),
                birthday: row.birthday,
                birthday_md: MonthDay { month: (row.birthday_md / 100) as u32, day: (row.birthday_md % 100) as u32 },
            })
            .collect())
    }

    async fn complete(
        &self,
        user: UserId,
        revision: i64,
        local_date: NaiveDate,
        mail: Option<Email>,
        next_run: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let mut conn = self.db.conn().await?;
        let queued = conn
            .transaction(async |conn| record_run(conn, (user, revision), local_date, mail.as_ref(), next_run).await)
            .await
            .map_err(query_error)?;
        if queued {
            self.queued.notify_one();
        }
        Ok(queued)
    }

    async fn reschedule(&self, user: UserId, next_run: DateTime<Utc>) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        // Not over a change made since the claim (see `record_run`).
        diesel::sql_query("UPDATE user_settings SET next_run_at = $2 WHERE user_id = $1 AND next_run_at > '-infinity'")
            .bind::<BigInt, _>(user.0)
            .bind::<Timestamptz, _>(next_run)
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(query_error)
    }
}

/// The run row, the mail (only if this call inserted the run: the primary key decides who
/// wins a race) and the next run time; the user's runs older than a week before both the run's
/// date and the real (database) date are dropped on the way.
async fn record_run(
    conn: &mut AsyncPgConnection,
    (user, revision): (UserId, i64),
    local_date: NaiveDate,
    mail: Option<&Email>,
    next_run: DateTime<Utc>,
) -> QueryResult<bool> {
    // The day's run is recorded once, mailed or not; a day recorded without a mail may still
    // get one (the user is due again only after a settings change: a new hour or window), and
    // a day that had its digest never gets another (the update's condition, under the row's
    // lock).
    // A settings change (an unsubscribe included) since the claim moved the revision on, and
    // made the user due again at once (`-infinity`, as a confirmation does): this pass read the
    // old settings, so it records nothing and the next pass looks again (the revision tells it
    // even when another pass has claimed the user since). The row lock makes such a change
    // committing meanwhile wait for this one, so a digest is never queued after an
    // unsubscribe answered.
    let current: Inserted = diesel::sql_query(
        "SELECT count(*) AS n FROM (SELECT 1 FROM user_settings WHERE user_id = $1 AND birthday_reminders \
         AND next_run_at > '-infinity' AND revision = $2 FOR UPDATE) s",
    )
    .bind::<BigInt, _>(user.0)
    .bind::<BigInt, _>(revision)
    .get_result(conn)
    .await?;
    if current.n == 0 {
        return Ok(false);
    }
    let inserted: Inserted = diesel::sql_query(
        "WITH run AS (INSERT INTO reminder_runs (user_id, local_date, mailed) VALUES ($1, $2, $3) \
         ON CONFLICT (user_id, local_date) DO UPDATE SET mailed = true \
         WHERE NOT reminder_runs.mailed AND EXCLUDED.mailed RETURNING 1) SELECT count(*) AS n FROM run",
    )
    .bind::<BigInt, _>(user.0)
    .bind::<Date, _>(local_date)
    .bind::<Bool, _>(mail.is_some())
    .get_result(conn)
    .await?;
    diesel::sql_query("UPDATE user_settings SET next_run_at = $2 WHERE user_id = $1")
        .bind::<BigInt, _>(user.0)
        .bind::<Timestamptz, _>(next_run)
        .execute(conn)
        .await?;
    if inserted.n == 0 {
        return Ok(false);
    }
    // Runs more than a week old go, but never one of the real last week: a pass as if at a later
    // date (`send-reminders --at`) must not drop the run of the real local today, or the next
    // real pass mails it again. No zone's local date is behind the UTC date by more than one.
    diesel::sql_query(
        "DELETE FROM reminder_runs WHERE user_id = $1 \
         AND local_date < LEAST($2, (now() AT TIME ZONE 'UTC')::date - 1) - 7",
    )
    .bind::<BigInt, _>(user.0)
    .bind::<Date, _>(local_date)
    .execute(conn)
    .await?;
    let Some(mail) = mail else { return Ok(false) };
    let headers = serde_json::to_value(&mail.headers).unwrap_or_default();
    // Reminders skip the flood guard: at most one a day by construction, caused by no request.
    diesel::sql_query(
        "INSERT INTO mail_outbox (kind, recipient, subject, text_body, html_body, headers, user_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind::<Text, _>(MailKind::BirthdayReminder.as_str())
    .bind::<Text, _>(mail.to.as_str())
    .bind::<Text, _>(&mail.subject)
    .bind::<Text, _>(&mail.text)
    .bind::<Text, _>(&mail.html)
    .bind::<Jsonb, _>(headers)
    .bind::<BigInt, _>(user.0)
    .execute(conn)
    .await?;
    Ok(true)
}

impl PgReminderStore {
    /// The user's settings.
    pub async fn settings(&self, user: UserId) -> Result<ReminderSettings, Error> {
        let mut conn = self.db.conn().await?;
        let row: Option<SettingsRow> = diesel::sql_query(
            "SELECT timezone, birthday_reminders, reminder_days, reminder_hour FROM user_settings WHERE user_id = $1",
        )
        .bind::<BigInt, _>(user.0)
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(query_error)?;
        row.ok_or(Error::NotFound("User not found"))?.settings()
    }

    /// Applies `patch` in one statement and returns the settings; the user is looked at again
    /// by the next pass (a new zone or hour may make today's digest due now).
    pub async fn update_settings(&self, user: UserId, patch: SettingsPatch) -> Result<ReminderSettings, Error> {
        let mut conn = self.db.conn().await?;
        let row: Option<SettingsRow> = diesel::sql_query(
            "UPDATE user_settings SET timezone = coalesce($2, timezone), \
             birthday_reminders = coalesce($3, birthday_reminders), reminder_days = coalesce($4, reminder_days), \
             reminder_hour = coalesce($5, reminder_hour), next_run_at = '-infinity', revision = revision + 1 \
             WHERE user_id = $1 \
             RETURNING timezone, birthday_reminders, reminder_days, reminder_hour",
        )
        .bind::<BigInt, _>(user.0)
        .bind::<Nullable<Text>, _>(patch.timezone.map(|tz| tz.name()))
        .bind::<Nullable<Bool>, _>(patch.birthday_reminders)
        .bind::<Nullable<SmallInt>, _>(patch.reminder_days.map(|d| d.get() as i16))
        .bind::<Nullable<SmallInt>, _>(patch.reminder_hour.map(|h| h.get() as i16))
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(query_error)?;
        row.ok_or(Error::NotFound("User not found"))?.settings()
    }
}

#[cfg(test)]
mod tests;
