//! The SQL migrations in `migrations/`, embedded in the binary and applied at start.

use diesel::Connection;
use diesel::RunQueryDsl;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../../migrations");

/// Key of the advisory lock that serialises migrations when several instances start at once.
const MIGRATION_LOCK: i64 = 0x636f_6e74_6163_7473; // "contacts"

/// Migrating the database failed.
#[derive(Debug, thiserror::Error)]
#[error("could not migrate the database")]
pub struct MigrationError(#[source] Box<dyn std::error::Error + Send + Sync>);

impl MigrationError {
    fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self(cause.into())
    }
}

/// Applies every pending migration to the database at `url` and returns how many ran.
///
/// Diesel's migration harness is synchronous, so it runs on a blocking thread (never on the
/// async executor), under a PostgreSQL advisory lock so concurrent starts do not race.
pub async fn run_migrations(url: &str) -> Result<usize, MigrationError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url).map_err(MigrationError::new)?;
        advisory(&mut conn, "SELECT pg_advisory_lock($1)")?;
        let applied = conn.run_pending_migrations(MIGRATIONS).map(|v| v.len()).map_err(MigrationError::new);
        advisory(&mut conn, "SELECT pg_advisory_unlock($1)")?;
        applied
    })
    .await
    .map_err(MigrationError::new)?
}

/// Creates the database named in `url` if it does not exist yet, so a newcomer's first
/// `just run` works on an empty server. Needs the role to have `CREATEDB` rights; where the
/// database already exists nothing is done and no rights are needed.
pub async fn create_database_if_missing(url: &str) -> Result<bool, MigrationError> {
    use diesel_async::AsyncConnection;
    let error = match AsyncPgConnection::establish(url).await {
        Ok(_) => return Ok(false),
        Err(error) => error,
    };
    if !error.to_string().contains("does not exist") {
        return Err(MigrationError::new(error));
    }
    let (server, name) =
        split_database(url).ok_or_else(|| MigrationError::new(format!("no database name in the URL: {error}")))?;
    let mut conn = AsyncPgConnection::establish(&server).await.map_err(MigrationError::new)?;
    let create = format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\""));
    diesel_async::RunQueryDsl::execute(diesel::sql_query(create), &mut conn).await.map_err(MigrationError::new)?;
    Ok(true)
}

/// Splits `postgres://…/name?params` into the URL of the server's `postgres` database and `name`.
fn split_database(url: &str) -> Option<(String, String)> {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let (server, name) = base.rsplit_once('/')?;
    if name.is_empty() || server.ends_with('/') {
        return None;
    }
    let maintenance = match query {
        Some(q) => format!("{server}/postgres?{q}"),
        None => format!("{server}/postgres"),
    };
    Some((maintenance, name.to_owned()))
}

fn advisory(conn: &mut AsyncConnectionWrapper<AsyncPgConnection>, sql: &str) -> Result<(), MigrationError> {
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
        .execute(conn)
        .map(|_| ())
        .map_err(MigrationError::new)
}

#[cfg(test)]
mod tests {
    use super::split_database;

    #[test]
    fn splits_the_database_name_off_the_url() {
        assert_eq!(
            split_database("postgres://u:p@h:5432/contacts?sslmode=require"),
            Some(("postgres://u:p@h:5432/postgres?sslmode=require".into(), "contacts".into()))
        );
        assert_eq!(split_database("postgres://h/db"), Some(("postgres://h/postgres".into(), "db".into())));
        assert_eq!(split_database("postgres://h/"), None);
        assert_eq!(split_database("postgres://h"), None);
    }
}

#[cfg(test)]
mod harness_tests;
