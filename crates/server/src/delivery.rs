//! The mail delivery loop every instance runs: it sends at once what this process queued (woken
//! through a [`Notify`]) and polls for mails queued by other instances or due for a retry.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use contacts_domain::SystemClock;
use contacts_domain::mail::DeliveryWorker;
use contacts_postgres::PgMailOutbox;
use contacts_smtp::AnyMailer;

use crate::observability::metrics;

/// The worker wired to its production adapters.
pub type Worker = DeliveryWorker<PgMailOutbox, AnyMailer, SystemClock>;

/// How often the outbox is looked at when nothing woke the worker.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How often sent and failed mails of past weeks are deleted.
const PURGE_INTERVAL: Duration = Duration::from_secs(3600);
/// How often the `mail_outbox_pending` gauge is refreshed when nothing was sent.
const PENDING_INTERVAL: Duration = Duration::from_secs(10);

/// Delivers mails until `stop` turns true, which it checks between batches: a batch in flight
/// is finished, so no mail is cut off between being sent and being marked sent.
pub async fn run(worker: Worker, queued: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let mut last_purge: Option<tokio::time::Instant> = None;
    let mut last_count: Option<tokio::time::Instant> = None;
    loop {
        if *stop.borrow() {
            return;
        }
        if last_purge.is_none_or(|at| at.elapsed() >= PURGE_INTERVAL) {
            last_purge = Some(tokio::time::Instant::now());
            match worker.purge().await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "purged old mails from the outbox"),
                Err(error) => tracing::warn!(error = ?error, "could not purge the outbox"),
            }
        }
        let delivered = worker.deliver_due().await;
        let busy = delivered.as_ref().is_ok_and(|attempts| !attempts.is_empty());
        match delivered {
            Ok(attempts) => attempts.iter().for_each(|a| metrics::record_mail(a.kind.as_str(), a.sent)),
            Err(error) => tracing::warn!(error = ?error, "could not deliver queued mails"),
        }
        if busy || last_count.is_none_or(|at| at.elapsed() >= PENDING_INTERVAL) {
            last_count = Some(tokio::time::Instant::now());
            match worker.pending().await {
                Ok(pending) => metrics::record_outbox_pending(pending),
                Err(error) => tracing::debug!(error = ?error, "could not count the outbox"),
            }
        }
        // A batch was claimed: there may be more behind it.
        if busy {
            continue;
        }
        tokio::select! {
            () = queued.notified() => {}
            () = tokio::time::sleep(POLL_INTERVAL) => {}
            // A dropped sender (the application itself dropped) stops the loop as well.
            changed = stop.changed() => if changed.is_err() { return },
        }
    }
}
