//! [`AppState`]: the services every handler reaches, built once per process.

use contacts_crypto::{BcryptHasher, JwtCodec};
use contacts_domain::SystemClock;
use contacts_domain::auth::AuthService;
use contacts_domain::contact::ContactService;
use contacts_domain::user::UserService;
use contacts_postgres::{Database, PgContactRepository, PgUserRepository};
use contacts_smtp::AnyMailer;

/// The authentication service wired to its production adapters.
pub type AuthApi = AuthService<PgUserRepository, BcryptHasher, JwtCodec, AnyMailer, SystemClock>;
/// The contacts service wired to its production adapters.
pub type ContactApi = ContactService<PgContactRepository, SystemClock>;
/// The account administration service wired to its production adapters.
pub type UserApi = UserService<PgUserRepository>;

/// Shared by all workers behind an `Arc` (`web::Data`); every field is a cheap handle onto
/// process-wide pools, so nothing is duplicated per worker.
#[derive(Debug)]
pub struct AppState {
    /// Registration, login, confirmation and token checks.
    pub auth: AuthApi,
    /// The contacts book.
    pub contacts: ContactApi,
    /// The database pool, for health checks.
    pub database: Database,
}
