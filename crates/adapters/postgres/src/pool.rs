//! [`Database`]: the one connection pool of the process.

use std::time::Duration;

use deadpool::Runtime;
use diesel::IntoSql;
use diesel_async::AsyncPgConnection;
use diesel_async::RunQueryDsl;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};

use crate::error::pool_error;
use contacts_domain::Error;

/// How long a request waits for a connection (or for a new one to be made) before it is told
/// the database is unavailable: failing fast beats hanging when PostgreSQL is down.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The pool could not be configured.
#[derive(Debug, thiserror::Error)]
#[error("could not build the PostgreSQL connection pool: {0}")]
pub struct DatabaseError(String);

/// A cheaply clonable handle to the PostgreSQL connection pool, shared by every repository.
///
/// Build it once per process (not per actix worker). Connections are verified before reuse,
/// so the pool recovers by itself after a database restart.
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncPgConnection>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database").field("status", &self.pool.status()).finish()
    }
}

impl Database {
    /// Configures a pool of at most `max_size` connections to `url`. No connection is made
    /// until one is needed, so this succeeds even while PostgreSQL is down.
    pub fn connect_lazy(url: &str, max_size: usize) -> Result<Self, DatabaseError> {
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Verified;
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| DatabaseError(e.to_string()))?;
        Ok(Self { pool })
    }

    /// A connection from the pool, or [`Error::Unavailable`] once the timeout has passed.
    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, Error> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Checks that PostgreSQL answers a trivial query, for health checks.
    pub async fn ping(&self) -> Result<(), Error> {
        let mut conn = self.conn().await?;
        diesel::select(1_i32.into_sql::<diesel::sql_types::Integer>())
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(crate::error::query_error)
    }
}

#[cfg(test)]
mod tests;
