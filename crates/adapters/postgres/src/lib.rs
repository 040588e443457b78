//! PostgreSQL adapter: implements the domain's repository ports with diesel-async over a
//! deadpool connection pool, and carries the SQL migrations embedded in the binary.
//!
//! Invariants live in the database (unique indexes, foreign keys, checks); this crate maps
//! their violations to domain errors instead of checking first, so concurrent requests cannot
//! slip past them.
#![deny(missing_docs)]

mod address_books;
mod app_passwords;
mod contacts;
mod error;
mod leases;
mod migrations;
mod outbox;
mod pool;
mod reminders;
mod rows;
mod schema;
#[cfg(test)]
mod test_fixtures;
mod tokens;
mod user_changes;
mod users;

pub use address_books::PgAddressBooks;
pub use app_passwords::PgAppPasswords;
pub use contacts::PgContactRepository;
pub use migrations::{MigrationError, create_database_if_missing, run_migrations};
pub use outbox::{FloodGuard, PgMailOutbox};
pub use pool::{CONNECT_TIMEOUT, Database, DatabaseError, PoolUsage, check_url};
pub use reminders::PgReminderStore;
pub use tokens::PgTokenStore;
pub use user_changes::{UserChange, listen_for_user_changes};
pub use users::PgUserRepository;
