//! [`PgUserRepository`]: the user port on PostgreSQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};

use contacts_domain::user::{NewUser, PasswordHash, Role, User, UserCredentials, UserId, UserRepository};
use contacts_domain::{EmailAddress, Error};

use crate::error::query_error;
use crate::pool::Database;
use crate::schema::{lower, users};

/// The columns every read of a user selects; the password hash is not among them.
#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    id: i64,
    username: String,
    email: String,
    avatar: Option<String>,
    role: String,
    confirmed: bool,
    created_at: DateTime<Utc>,
    token_version: i64,
    /// `<session id>/<unix time>` entries (see the migration); the domain sees the ids.
    ended_sessions: Vec<String>,
}

impl TryFrom<UserRow> for User {
    type Error = Error;

    fn try_from(row: UserRow) -> Result<Self, Error> {
        Ok(User {
            id: UserId(row.id),
            username: row.username,
            email: EmailAddress::from_trusted(row.email),
            avatar: row.avatar,
            role: row.role.parse::<Role>().map_err(Error::unexpected)?,
            confirmed: row.confirmed,
            created_at: row.created_at,
            token_version: row.token_version,
            ended_sessions: row
                .ended_sessions
                .into_iter()
                .map(|entry| entry.split_once('/').map_or(entry.clone(), |(session, _)| session.to_owned()))
                .collect(),
        })
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
struct CredentialsRow {
    #[diesel(embed)]
    user: UserRow,
    password_hash: String,
}

#[derive(Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow<'a> {
    pub(crate) username: &'a str,
    pub(crate) email: &'a str,
    pub(crate) password_hash: &'a str,
    pub(crate) avatar: &'a str,
}

/// Users stored in the `users` table.
#[derive(Debug, Clone)]
pub struct PgUserRepository {
    db: Database,
}

impl PgUserRepository {
    /// A repository on the shared pool.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn one(row: QueryResult<UserRow>) -> Result<Option<User>, Error> {
    row.optional().map_err(query_error)?.map(User::try_from).transpose()
}

impl UserRepository for PgUserRepository {
    async fn create(&self, new_user: NewUser) -> Result<User, Error> {
        let mut conn = self.db.conn().await?;
        let row = NewUserRow {
            username: new_user.username.as_str(),
            email: new_user.email.as_str(),
            password_hash: &new_user.password_hash.0,
            avatar: &new_user.avatar,
        };
        diesel::insert_into(users::table)
            .values(row)
            .returning(UserRow::as_returning())
            .get_result(&mut conn)
            .await
            .map_err(query_error)?
            .try_into()
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        let mut conn = self.db.conn().await?;
        one(users::table.find(id.0).select(UserRow::as_select()).first(&mut conn).await)
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, Error> {
        let mut conn = self.db.conn().await?;
        let query = users::table.filter(lower(users::email).eq(lower(email.as_str())));
        one(query.select(UserRow::as_select()).first(&mut conn).await)
    }

    async fn find_credentials(&self, login: &str) -> Result<Option<UserCredentials>, Error> {
        let mut conn = self.db.conn().await?;
        // A username cannot contain '@' and an email must, so at most one row matches.
        let row = users::table
            .filter(lower(users::email).eq(lower(login)).or(lower(users::username).eq(lower(login))))
            .select(CredentialsRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(query_error)?;
        row.map(|row| {
            Ok(UserCredentials { user: row.user.try_into()?, password_hash: PasswordHash(row.password_hash) })
        })
        .transpose()
    }

    async fn confirm_email(&self, id: UserId) -> Result<Option<User>, Error> {
        let mut conn = self.db.conn().await?;
        // Only an unconfirmed user changes: of two clicks at once, one confirms.
        let query = diesel::update(users::table.find(id.0).filter(users::confirmed.eq(false)))
            .set((users::confirmed.eq(true), users::updated_at.eq(diesel::dsl::now)));
        one(query.returning(UserRow::as_returning()).get_result(&mut conn).await)
    }

    async fn update_password(&self, id: UserId, password_hash: PasswordHash) -> Result<Option<User>, Error> {
        let mut conn = self.db.conn().await?;
        let query = diesel::update(users::table.find(id.0)).set((
            users::password_hash.eq(password_hash.0),
            users::token_version.eq(users::token_version + 1),
            users::updated_at.eq(diesel::dsl::now),
        ));
        one(query.returning(UserRow::as_returning()).get_result(&mut conn).await)
    }

    async fn update_avatar(&self, id: UserId, avatar: &str) -> Result<Option<(User, Option<String>)>, Error> {
        let mut conn = self.db.conn().await?;
        // The row is locked while the old URL is read, so a racing change waits and then reads
        // this one's URL as the one it replaces.
        let changed = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                let Some(previous) = users::table
                    .find(id.0)
                    .select(users::avatar)
                    .for_update()
                    .first::<Option<String>>(conn)
                    .await
                    .optional()?
                else {
                    return Ok(None);
                };
                let row = diesel::update(users::table.find(id.0))
                    .set((users::avatar.eq(avatar), users::updated_at.eq(diesel::dsl::now)))
                    .returning(UserRow::as_returning())
                    .get_result(conn)
                    .await?;
                Ok(Some((row, previous)))
            })
            .await
            .map_err(query_error)?;
        changed.map(|(row, previous)| Ok((User::try_from(row)?, previous))).transpose()
    }

    async fn end_session(
        &self,
        id: UserId,
        session: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error> {
        use diesel::sql_types::{BigInt, Text};
        let mut conn = self.db.conn().await?;
        // One statement: prune what can no longer matter, append this session.
        let query = diesel::sql_query(
            "UPDATE users SET ended_sessions = ARRAY(SELECT e FROM unnest(ended_sessions) AS e \
             WHERE split_part(e, '/', 2)::bigint > $2) || $3::text, updated_at = now() WHERE id = $1 \
             RETURNING id, username, email, avatar, role, confirmed, created_at, token_version, ended_sessions",
        )
        .bind::<BigInt, _>(id.0)
        .bind::<BigInt, _>(now.timestamp())
        .bind::<Text, _>(format!("{session}/{}", until.timestamp()));
        one(query.get_result::<UserRow>(&mut conn).await)
    }

    async fn end_all_sessions(&self, id: UserId) -> Result<Option<User>, Error> {
        let mut conn = self.db.conn().await?;
        let query = diesel::update(users::table.find(id.0))
            .set((users::token_version.eq(users::token_version + 1), users::updated_at.eq(diesel::dsl::now)));
        one(query.returning(UserRow::as_returning()).get_result(&mut conn).await)
    }

    async fn set_role(&self, email: &EmailAddress, role: Role) -> Result<Option<User>, Error> {
        let mut conn = self.db.conn().await?;
        let query = diesel::update(users::table.filter(lower(users::email).eq(lower(email.as_str()))))
            .set((users::role.eq(role.as_str()), users::updated_at.eq(diesel::dsl::now)));
        one(query.returning(UserRow::as_returning()).get_result(&mut conn).await)
    }
}

#[cfg(test)]
mod tests;
