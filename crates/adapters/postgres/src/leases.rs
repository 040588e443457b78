//! Work shared by every instance (mails to send, users due for a reminder) is claimed with a
//! lease: one statement picks rows with `FOR UPDATE SKIP LOCKED` and moves their next time past
//! the lease, so no two instances take the same row, and a crashed instance's rows come back
//! when the lease runs out.

use chrono::{DateTime, Duration, Utc};
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Double, Timestamptz};
use diesel_async::RunQueryDsl;

use contacts_domain::Error;

use crate::error::query_error;
use crate::pool::Database;

/// Runs a claim statement whose parameters are `$1` now, `$2` the lease in seconds and `$3` the
/// most rows to take, and returns the rows it took.
pub(crate) async fn claim<R: QueryableByName<Pg> + Send + 'static>(
    db: &Database,
    sql: &'static str,
    now: DateTime<Utc>,
    lease: Duration,
    limit: i64,
) -> Result<Vec<R>, Error> {
    let mut conn = db.conn().await?;
    diesel::sql_query(sql)
        .bind::<Timestamptz, _>(now)
        .bind::<Double, _>(lease.num_milliseconds() as f64 / 1000.0)
        .bind::<BigInt, _>(limit)
        .load(&mut conn)
        .await
        .map_err(query_error)
}
