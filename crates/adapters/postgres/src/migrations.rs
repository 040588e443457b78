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
#[error("could not migrate the database: {0}")]
pub struct MigrationError(String);

/// Applies every pending migration to the database at `url` and returns how many ran.
///
/// Diesel's migration harness is synchronous, so it runs on a blocking thread (never on the
/// async executor), under a PostgreSQL advisory lock so concurrent starts do not race.
pub async fn run_migrations(url: &str) -> Result<usize, MigrationError> {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)
            .map_err(|e| MigrationError(e.to_string()))?;
        advisory(&mut conn, "SELECT pg_advisory_lock($1)")?;
        let applied = conn.run_pending_migrations(MIGRATIONS).map(|v| v.len()).map_err(|e| MigrationError(e.to_string()));
        advisory(&mut conn, "SELECT pg_advisory_unlock($1)")?;
        applied
    })
    .await
    .map_err(|e| MigrationError(e.to_string()))?
}

fn advisory(conn: &mut AsyncConnectionWrapper<AsyncPgConnection>, sql: &str) -> Result<(), MigrationError> {
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
        .execute(conn)
        .map(|_| ())
        .map_err(|e| MigrationError(e.to_string()))
}
