//! [`PgAppPasswords`]: app passwords on PostgreSQL, kept as fingerprints. A password change
//! deletes them all (a trigger on `users`).

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;

use contacts_domain::Error;
use contacts_domain::addressbook::{AppPassword, AppPasswordStore, USE_RECORDED_EVERY};
use contacts_domain::email::fold_case;
use contacts_domain::user::UserId;

use crate::error::query_error;
use crate::pool::Database;
use crate::rows::IntoDomain;
use crate::schema::{app_passwords, lower, users};

#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = app_passwords, check_for_backend(Pg))]
struct Row {
    id: i64,
    name: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<Row> for AppPassword {
    fn from(row: Row) -> Self {
        AppPassword { id: row.id, name: row.name, created_at: row.created_at, last_used_at: row.last_used_at }
    }
}

/// App passwords in the `app_passwords` table.
#[derive(Debug, Clone)]
pub struct PgAppPasswords {
    db: Database,
}

impl PgAppPasswords {
    /// A store on the shared pool.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl AppPasswordStore for PgAppPasswords {
    async fn insert(
        &self,
        owner: UserId,
        token_version: i64,
        name: &str,
        fingerprint: &str,
    ) -> Result<Option<AppPassword>, Error> {
        let mut conn = self.db.conn().await?;
        // The user's row is share-locked with the version checked: a password reset (which
        // bumps the version and, by trigger, deletes every app password) either waits for this
        // insert and then deletes it too, or commits first and leaves nothing to insert.
        diesel::sql_query(
            "INSERT INTO app_passwords (user_id, name, fingerprint) \
             SELECT id, $2, $3 FROM users WHERE id = $1 AND token_version = $4 FOR SHARE \
             RETURNING id, name, created_at, last_used_at",
        )
        .bind::<BigInt, _>(owner.0)
        .bind::<Text, _>(name)
        .bind::<Text, _>(fingerprint)
        .bind::<BigInt, _>(token_version)
        .get_result::<Row>(&mut conn)
        .await
        .optional()
        .map(|row| row.map(AppPassword::from))
        .map_err(query_error)
    }

    async fn list(&self, owner: UserId) -> Result<Vec<AppPassword>, Error> {
        let mut conn = self.db.conn().await?;
        app_passwords::table
            .filter(app_passwords::user_id.eq(owner.0))
            .order(app_passwords::id)
            .select(Row::as_select())
            .load(&mut conn)
            .await
            .into_domain()
    }

    async fn delete(&self, owner: UserId, id: i64) -> Result<bool, Error> {
        let mut conn = self.db.conn().await?;
        diesel::delete(app_passwords::table.filter(app_passwords::id.eq(id).and(app_passwords::user_id.eq(owner.0))))
            .execute(&mut conn)
            .await
            .map(|deleted| deleted > 0)
            .map_err(query_error)
    }

    async fn verify(
        &self,
        login: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, String)>, Error> {
        let mut conn = self.db.conn().await?;
        let login = fold_case(login);
        // A read, one round trip: most requests of a sync client find a recent use recorded.
        let found: Option<(i64, i64, String, Option<DateTime<Utc>>)> = app_passwords::table
            .inner_join(users::table)
            .filter(app_passwords::fingerprint.eq(fingerprint))
            .filter(lower(users::username).eq(&login).or(lower(users::email).eq(&login)))
            .select((app_passwords::id, users::id, users::username, app_passwords::last_used_at))
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        let Some((password, id, username, last_used_at)) = found else { return Ok(None) };
        let due = now - USE_RECORDED_EVERY;
        if last_used_at.is_none_or(|at| at <= due) {
            // The same condition in the write, so racing requests never move the use back.
            let recorded = app_passwords::last_used_at.is_null().or(app_passwords::last_used_at.le(due));
            diesel::update(app_passwords::table.find(password).filter(recorded))
                .set(app_passwords::last_used_at.eq(now))
                .execute(&mut conn)
                .await
                .map_err(query_error)?;
        }
        Ok(Some((UserId(id), username)))
    }
}

#[cfg(test)]
mod tests;
