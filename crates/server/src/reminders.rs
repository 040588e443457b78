//! The birthday reminder pass every instance runs every `REMINDER_SCAN_SECONDS`, and the one
//! `contacts-api send-reminders` runs once. Instances share the work through the database
//! (claims with a lease, one run row per user and local day), so any number may run.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use contacts_crypto::JwtCodec;
use contacts_domain::SystemClock;
use contacts_domain::mail::Links;
use contacts_domain::reminders::ReminderPass;
use contacts_postgres::{Database, PgReminderStore};

use crate::config::Settings;

/// The pass wired to its production adapters.
pub type Pass = ReminderPass<PgReminderStore, JwtCodec, SystemClock>;

/// The pass on `database`; `queued` wakes this process's delivery worker.
pub fn pass(settings: &Settings, database: Database, queued: Arc<Notify>) -> Pass {
    ReminderPass::new(
        PgReminderStore::new(database, queued),
        JwtCodec::new(settings.jwt_secret.as_bytes()),
        SystemClock,
        Links::new(&settings.app_base_url, contacts_http::link_paths()),
    )
}

/// Runs a pass every `interval`, for as long as the server runs.
pub async fn run(pass: Pass, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match pass.run().await {
            Ok(0) => {}
            Ok(queued) => tracing::info!(queued, "queued birthday reminders"),
            Err(error) => tracing::warn!(error = ?error, "could not run the birthday reminder pass"),
        }
    }
}
