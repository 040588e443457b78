//! [`AppState`]: the services every handler reaches, built once per process.

use contacts_avatars::AnyAvatarStore;
use contacts_cache::AnyCache;
use contacts_crypto::{BcryptHasher, JwtCodec};
use contacts_domain::SystemClock;
use contacts_domain::auth::AuthService;
use contacts_domain::contact::ContactService;
use contacts_domain::throttle::LoginThrottle;
use contacts_domain::user::{CachedUsers, ProfileService};
use contacts_postgres::{Database, PgContactRepository, PgMailOutbox, PgTokenStore, PgUserRepository};

/// Users read through the cache (Redis or in process), written to PostgreSQL.
pub type Users = CachedUsers<PgUserRepository, AnyCache>;
/// The authentication service wired to its production adapters.
pub type AuthApi = AuthService<Users, BcryptHasher, JwtCodec, PgTokenStore, PgMailOutbox, SystemClock>;
/// The contacts service wired to its production adapters.
pub type ContactApi = ContactService<PgContactRepository, SystemClock>;
/// The current user's profile service wired to its production adapters.
pub type ProfileApi = ProfileService<Users, AnyCache, AnyAvatarStore, SystemClock>;

/// Shared by all workers behind an `Arc` (`web::Data`); every field is a cheap handle onto
/// process-wide pools, so nothing is duplicated per worker.
#[derive(Debug)]
pub struct AppState {
    /// Registration, login, confirmation, sessions, password reset and token checks.
    pub auth: AuthApi,
    /// The contacts book.
    pub contacts: ContactApi,
    /// The current user's profile and avatar.
    pub profiles: ProfileApi,
    /// The database pool, for health checks.
    pub database: Database,
    /// The cache, for health checks.
    pub cache: AnyCache,
    /// Stored avatars, served under `/media/`.
    pub avatars: AnyAvatarStore,
    /// Largest avatar upload, in bytes.
    pub max_avatar_bytes: u64,
    /// Largest vCard import body, in bytes (`MAX_IMPORT_BYTES`).
    pub max_import_bytes: u64,
    /// Counts failed logins per name and client address (Redis or in process).
    pub login_throttle: LoginThrottle<AnyCache>,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}
