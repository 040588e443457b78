//! [`Database`]: the one connection pool of the process.

use std::time::Duration;

use deadpool::Runtime;
use deadpool::managed::{Hook, HookError};
use diesel::IntoSql;
use diesel::result::QueryResult;
use diesel_async::AsyncPgConnection;
use diesel_async::RunQueryDsl;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod};

use crate::error::pool_error;
use contacts_domain::Error;

/// How long a request waits for a connection (or for a new one to be made) before it is told
/// the database is unavailable: failing fast beats hanging when PostgreSQL is down. Public so
/// the composition root can give work queued in front of the database the same bound.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The most a request waits for a connection in all: for a free one ([`CONNECT_TIMEOUT`]), then
/// the checks of idle ones ([`CHECK_WITHIN`] each) or a new one. The pool tries idle connections
/// one after another, each with a timeout of its own; without this bound a PostgreSQL that
/// hangs kept a request waiting for every idle connection's check in turn (27 s with 16).
const GET_WITHIN: Duration = Duration::from_secs(4);

/// How long an idle connection's `SELECT 1` may take: a working server answers it in
/// milliseconds.
const CHECK_WITHIN: Duration = Duration::from_secs(1);

/// A pooled connection unused for this long is checked with `SELECT 1` before reuse. One in
/// steady use is known good and costs no extra round trip; one that sat idle may have been cut
/// off silently (a firewall, a failover) and would otherwise hang the request that gets it.
const IDLE_BEFORE_CHECK: Duration = Duration::from_secs(10);

type Manager = AsyncDieselConnectionManager<AsyncPgConnection>;

/// The pool could not be configured.
#[derive(Debug, thiserror::Error)]
#[error("could not build the PostgreSQL connection pool")]
pub struct DatabaseError(#[source] deadpool::managed::BuildError);

/// A snapshot of the pool's connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUsage {
    /// Open and waiting for work.
    pub idle: usize,
    /// Lent to a request.
    pub in_use: usize,
    /// The pool's limit.
    pub max: usize,
}

/// A cheaply clonable handle to the PostgreSQL connection pool, shared by every repository.
///
/// Build it once per process (not per actix worker). A connection in steady use is reused
/// without a test query (`RecyclingMethod::Fast`), so a request costs exactly its own
/// statements; the pool drops every connection whose socket has closed (the driver notices
/// within milliseconds when PostgreSQL stops or restarts) and checks the ones that sat idle, so
/// it recovers by itself after a database restart.
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
        Self::with_checks(url, max_size, IDLE_BEFORE_CHECK, answers::ANSWER_WITHIN)
    }

    /// [`Database::connect_lazy`], checking connections unused for `idle` before reuse, and
    /// closing one whose answer has not begun `answer_within` after a statement was sent.
    pub(crate) fn with_checks(
        url: &str,
        max_size: usize,
        idle: Duration,
        answer_within: Duration,
    ) -> Result<Self, DatabaseError> {
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        config.custom_setup = Box::new(move |url| answers::establish(url, answer_within));
        let manager = Manager::new_with_config(url, config);
        let pool = Pool::builder(manager)
            .max_size(max_size)
            .post_recycle(check_if_idle_for(idle))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(DatabaseError)?;
        Ok(Self { pool })
    }

    /// A connection from the pool, or [`Error::Unavailable`] once [`GET_WITHIN`] has passed.
    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, Error> {
        match tokio::time::timeout(GET_WITHIN, self.pool.get()).await {
            Ok(got) => got.map_err(pool_error),
            Err(_) => Err(Error::Unavailable("no PostgreSQL connection within 4 s".into())),
        }
    }

    /// How many connections are idle, lent out, and allowed at most: what the
    /// `db_pool_connections` metric reports.
    pub fn usage(&self) -> PoolUsage {
        let status = self.pool.status();
        PoolUsage { idle: status.available, in_use: status.size.saturating_sub(status.available), max: status.max_size }
    }

    /// Checks that PostgreSQL answers a trivial query within 3 s in all (getting a connection
    /// included), for health checks. A connection that does not answer in time (a server that
    /// hangs, a route that went silent) is closed rather than returned to the pool: the probe
    /// says "down" in seconds, and no request is handed that connection afterwards.
    pub async fn ping(&self) -> Result<(), Error> {
        let deadline = tokio::time::Instant::now() + CONNECT_TIMEOUT;
        let unavailable = || Error::Unavailable("PostgreSQL did not answer within 3 s".into());
        let mut conn = tokio::time::timeout_at(deadline, self.conn()).await.map_err(|_| unavailable())??;
        match tokio::time::timeout_at(deadline, select_one(&mut conn)).await {
            Ok(answered) => answered.map_err(crate::error::query_error),
            Err(_) => {
                drop(Object::take(conn));
                Err(unavailable())
            }
        }
    }
}

/// The cheapest statement that proves a connection works.
pub(crate) async fn select_one(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::select(1_i32.into_sql::<diesel::sql_types::Integer>()).execute(conn).await.map(|_| ())
}

/// A recycle hook that checks a connection unused for `idle` or longer, within [`CHECK_WITHIN`];
/// a connection that fails is dropped and the pool tries the next one or opens another.
fn check_if_idle_for(idle: Duration) -> Hook<Manager> {
    Hook::async_fn(move |conn, metrics| {
        Box::pin(async move {
            if metrics.last_used() < idle {
                return Ok(());
            }
            match tokio::time::timeout(CHECK_WITHIN, select_one(conn)).await {
                Ok(Ok(())) => Ok(()),
                _ => Err(HookError::Message("an idle pooled connection failed its check".into())),
            }
        })
    })
}

mod answers;

#[cfg(test)]
mod tests;

/// Checks that `url` is a connection string PostgreSQL's client can use (its host, port and
/// options), so a mistake stops the start with a message naming the setting instead of
/// surfacing later as a failed connection. The reason given never repeats the URL.
///
/// A URL without a host (`postgres://`, `postgres:///contacts`) parses, but this client has no
/// default socket to fall back on as libpq does, so it is refused here too.
pub fn check_url(url: &str) -> Result<(), String> {
    let config = url.parse::<tokio_postgres::Config>().map_err(|e| e.to_string())?;
    if config.get_hosts().is_empty() {
        return Err("names no host (postgres://user@host:port/database)".into());
    }
    Ok(())
}
