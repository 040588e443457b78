//! Changes to users, announced by PostgreSQL at commit (migration
//! `2026-12-03-000130_user_change_notices`): what a server without Redis listens to, so that a
//! change made by another process (`contacts-api set-role`, an operator's own SQL) drops the
//! copy of the user it keeps in memory, and the next request sees the change.

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures_util::StreamExt;

use contacts_domain::user::UserId;

use crate::pool::{CONNECT_TIMEOUT, select_one};

/// The channel the trigger announces on, the changed user's id as the payload.
const CHANNEL: &str = "contacts_user_changed";

/// After this long without a notice the connection is checked with `SELECT 1`: one cut off
/// silently (a failover, a firewall) would otherwise never deliver another notice.
const CHECK_AFTER: Duration = Duration::from_secs(30);

/// The first wait before connecting again; it doubles up to [`MOST_BETWEEN_TRIES`].
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// The longest wait between two tries to connect.
const MOST_BETWEEN_TRIES: Duration = Duration::from_secs(30);

/// What a listener hears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChange {
    /// This user changed, or was deleted.
    One(UserId),
    /// Any user may have changed: the listener has just (re)connected, and nothing announced
    /// while it was not listening reaches it.
    Any,
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Listens for changes to users on a connection of its own, for as long as the future runs,
/// and tells `heard` of each; [`UserChange::Any`] each time it starts listening. While
/// PostgreSQL cannot be reached it tries again, waiting longer each time (up to 30 s).
pub async fn listen_for_user_changes(url: String, heard: impl Fn(UserChange)) {
    let mut wait = FIRST_RETRY;
    loop {
        let mut listened = false;
        if let Err(error) = listen(&url, &heard, &mut listened).await {
            tracing::warn!(error = %error, "not hearing changes to users; connecting again");
        }
        if listened {
            wait = FIRST_RETRY;
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(MOST_BETWEEN_TRIES);
    }
}

/// One connection's listening, until it fails; `listened` says whether it got as far as
/// listening.
async fn listen(url: &str, heard: &impl Fn(UserChange), listened: &mut bool) -> Result<(), Failure> {
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, AsyncPgConnection::establish(url)).await??;
    diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn).await?;
    *listened = true;
    heard(UserChange::Any);
    loop {
        let next = {
            let mut notices = std::pin::pin!(conn.notifications_stream());
            tokio::time::timeout(CHECK_AFTER, notices.next()).await
        };
        match next {
            Ok(Some(notice)) => {
                let id = notice?.payload.parse().map(|id| UserChange::One(UserId(id)));
                heard(id.unwrap_or(UserChange::Any));
            }
            Ok(None) => return Err("the connection closed".into()),
            Err(_quiet) => tokio::time::timeout(CONNECT_TIMEOUT, select_one(&mut conn)).await??,
        }
    }
}

#[cfg(test)]
mod tests;
