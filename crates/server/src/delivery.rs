//! The mail delivery loop every instance runs: it sends at once what this process queued (woken
//! through a [`Notify`]) and polls for mails queued by other instances or due for a retry.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use contacts_domain::SystemClock;
use contacts_domain::mail::DeliveryWorker;
use contacts_postgres::PgMailOutbox;
use contacts_smtp::AnyMailer;

/// The worker wired to its production adapters.
pub type Worker = DeliveryWorker<PgMailOutbox, AnyMailer, SystemClock>;

/// How often the outbox is looked at when nothing woke the worker.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often sent and failed mails of past weeks are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);

/// Delivers mails for as long as the server runs.
pub async fn run(worker: Worker, queued: Arc<Notify>) {
    let mut last_purge: Option<tokio::time::Instant> = None;
    loop {
        if last_purge.is_none_or(|at| at.elapsed() >= PURGE_INTERVAL) {
            last_purge = Some(tokio::time::Instant::now());
            match worker.purge().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "purged old mails from the outbox"),
                Err(error) => tracing::warn!(error = ?error, "could not purge the outbox"),
            }
        }
        match worker.deliver_due().await {
            // A batch was claimed: there may be more behind it.
            Ok(claimed) if claimed > 0 => continue,
            Ok(_) => {}
            Err(error) => tracing::warn!(error = ?error, "could not deliver queued mails"),
        }
        tokio::select! {
            () = queued.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
}
