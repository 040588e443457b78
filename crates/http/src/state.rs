//! [`AppState`]: the use cases every handler reaches, built once per process by the
//! composition root (the server crate), which picks the adapters behind them.

use std::sync::Arc;

use contacts_domain::HealthCheck;
use contacts_domain::auth::AuthUseCases;
use contacts_domain::contact::ContactUseCases;
use contacts_domain::reminders::ReminderUseCases;
use contacts_domain::throttle::LoginGuard;
use contacts_domain::user::ProfileUseCases;

/// Shared by all workers behind an `Arc` (`web::Data`). It holds use cases as trait objects,
/// so this crate names no outbound adapter, and handlers can be tested against mocks.
#[derive(Clone)]
pub struct AppState {
    /// Registration, login, confirmation, sessions, password reset and token checks.
    pub auth: Arc<dyn AuthUseCases>,
    /// The contacts book.
    pub contacts: Arc<dyn ContactUseCases>,
    /// The current user's profile and avatar, and stored avatars served under `/media/`.
    pub profiles: Arc<dyn ProfileUseCases>,
    /// The database and cache probes behind `/readyz` and `/api/healthchecker`.
    pub health: Arc<dyn HealthCheck>,
    /// Birthday reminder settings and the digest's unsubscribe link.
    pub reminders: Arc<dyn ReminderUseCases>,
    /// Largest avatar upload, in bytes.
    pub max_avatar_bytes: u64,
    /// Largest vCard import body, in bytes (`MAX_IMPORT_BYTES`).
    pub max_import_bytes: u64,
    /// Counts failed logins per name and client address (Redis or in process).
    pub login_throttle: Arc<dyn LoginGuard>,
    /// Proxies (addresses and ranges) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: crate::TrustedProxies,
    /// The bound on vCard parsing and rendering off the executor (shared with CardDAV).
    pub card_work: crate::CardWork,
    /// Recent list pages' and birthday lists' JSON, each answered again while the book's stamp
    /// (and a birthday list's day) is unchanged.
    pub kept: Arc<crate::KeptAnswers>,
    /// The bound on list pages longer than the default read at once.
    pub long_pages: crate::LongPages,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("max_avatar_bytes", &self.max_avatar_bytes).finish_non_exhaustive()
    }
}
