//! [`PgTokenStore`]: the token-store port on PostgreSQL. Every state change is one atomic
//! statement (or one transaction), so a token can be rotated, revoked or consumed only once
//! however many requests race for it.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use contacts_domain::Error;
use contacts_domain::auth::{RefreshRotation, TokenStore};
use contacts_domain::user::UserId;

use crate::error::query_error;
use crate::pool::Database;
use crate::schema::{password_reset_tokens as resets, refresh_tokens as refresh};

/// Refresh and password-reset tokens, by fingerprint.
#[derive(Debug, Clone)]
pub struct PgTokenStore {
    db: Database,
}

impl PgTokenStore {
    /// A store on the shared pool.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// Revokes the live token with this fingerprint; its id if it was live. When it was not,
/// tells a replay (the token was rotated before) from an unknown, expired or revoked one: an
/// expired token is no sign of theft, nor is one whose session was ended (by its logout, a
/// password reset or a theft's sweep), since nobody can go on with it.
async fn revoke_live(
    conn: &mut diesel_async::AsyncPgConnection,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> QueryResult<Result<(i64, i64), RefreshRotation>> {
    let revoked: Option<(i64, i64)> = diesel::update(
        refresh::table
            .filter(refresh::token_hash.eq(fingerprint))
            .filter(refresh::revoked_at.is_null())
            .filter(refresh::expires_at.gt(now)),
    )
    .set(refresh::revoked_at.eq(now))
    .returning((refresh::id, refresh::user_id))
    .get_result(conn)
    .await
    .optional()?;
    if let Some(row) = revoked {
        return Ok(Ok(row));
    }
    let rotated = refresh::table.filter(refresh::token_hash.eq(fingerprint)).filter(refresh::replaced_by.is_not_null());
    let replayed: bool = diesel::select(diesel::dsl::exists(rotated)).get_result(conn).await?;
    Ok(Err(if replayed { RefreshRotation::Reused } else { RefreshRotation::Unknown }))
}

impl TokenStore for PgTokenStore {
    async fn store_refresh(&self, user: UserId, fingerprint: &str, expires_at: DateTime<Utc>) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        diesel::insert_into(refresh::table)
            .values((
                refresh::user_id.eq(user.0),
                refresh::token_hash.eq(fingerprint),
                refresh::expires_at.eq(expires_at),
            ))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(query_error)
    }

    async fn rotate_refresh(
        &self,
        old: &str,
        new: &str,
        new_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<RefreshRotation, Error> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            let (old_id, user_id) = match revoke_live(conn, old, now).await? {
                Ok(row) => row,
                Err(outcome) => return Ok(outcome),
            };
            let new_id: i64 = diesel::insert_into(refresh::table)
                .values((
                    refresh::user_id.eq(user_id),
                    refresh::token_hash.eq(new),
                    refresh::expires_at.eq(new_expires_at),
                ))
                .returning(refresh::id)
                .get_result(conn)
                .await?;
            diesel::update(refresh::table.find(old_id)).set(refresh::replaced_by.eq(new_id)).execute(conn).await?;
            Ok(RefreshRotation::Rotated)
        })
        .await
        .map_err(query_error)
    }

    async fn revoke_refresh(&self, fingerprint: &str, now: DateTime<Utc>) -> Result<RefreshRotation, Error> {
        let mut conn = self.db.conn().await?;
        match revoke_live(&mut conn, fingerprint, now).await.map_err(query_error)? {
            Ok(_) => Ok(RefreshRotation::Rotated),
            Err(outcome) => Ok(outcome),
        }
    }

    async fn revoke_all_refresh(&self, user: UserId) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        diesel::update(refresh::table.filter(refresh::user_id.eq(user.0)).filter(refresh::revoked_at.is_null()))
            .set(refresh::revoked_at.eq(diesel::dsl::now))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(query_error)
    }

    async fn store_reset(&self, user: UserId, fingerprint: &str, expires_at: DateTime<Utc>) -> Result<(), Error> {
        let mut conn = self.db.conn().await?;
        diesel::insert_into(resets::table)
            .values((resets::user_id.eq(user.0), resets::token_hash.eq(fingerprint), resets::expires_at.eq(expires_at)))
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(query_error)
    }

    async fn consume_reset(&self, fingerprint: &str, now: DateTime<Utc>) -> Result<Option<UserId>, Error> {
        let mut conn = self.db.conn().await?;
        // One statement spends the presented token and every other unused one of its user, so
        // an older link cannot be used after a newer one was. Racing consumes lock the user's
        // rows in the same order; the loser re-reads them as used and updates none, so the
        // presented token wins only if it is among the rows this statement marked.
        let presented = diesel::alias!(crate::schema::password_reset_tokens as presented);
        let owner = presented
            .filter(presented.field(resets::token_hash).eq(fingerprint))
            .filter(presented.field(resets::used_at).is_null())
            .filter(presented.field(resets::expires_at).gt(now))
            .select(presented.field(resets::user_id));
        let spent: Vec<(i64, String)> =
            diesel::update(resets::table.filter(resets::user_id.eq_any(owner)).filter(resets::used_at.is_null()))
                .set(resets::used_at.eq(now))
                .returning((resets::user_id, resets::token_hash))
                .get_results(&mut conn)
                .await
                .map_err(query_error)?;
        Ok(spent.into_iter().find(|(_, hash)| hash == fingerprint).map(|(user, _)| UserId(user)))
    }

    async fn purge_expired(&self, now: DateTime<Utc>) -> Result<u64, Error> {
        let mut conn = self.db.conn().await?;
        let refreshes = diesel::delete(refresh::table.filter(refresh::expires_at.le(now)))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        let resets = diesel::delete(resets::table.filter(resets::expires_at.le(now)))
            .execute(&mut conn)
            .await
            .map_err(query_error)?;
        Ok((refreshes + resets) as u64)
    }
}

#[cfg(test)]
mod tests;
