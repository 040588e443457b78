//! The contacts book's core: entities, value objects that parse and validate, the ports
//! (traits) that adapters implement, and the services that hold the business rules.
//!
//! Nothing here performs I/O or knows about HTTP, SQL, Redis or SMTP: services are generic
//! over their ports, so the same rules run against PostgreSQL in production and against
//! mockall mocks (feature `mocks`) in unit tests.
#![deny(missing_docs)]
// Ports use native `async fn`: the services run inside actix-web's per-worker,
// single-threaded runtimes, so their futures never need a `Send` bound.
#![allow(async_fn_in_trait)]

pub mod addressbook;
pub mod auth;
pub mod clock;
pub mod contact;
pub mod email;
pub mod error;
pub mod health;
pub mod mail;
pub mod reminders;
pub mod throttle;
pub mod user;

pub use clock::{Clock, SystemClock};
pub use email::EmailAddress;
pub use error::{Conflict, EmailProblem, Error, FieldError, PasswordProblem, PathSegment, PhoneProblem, Rule, Unit};
pub use health::HealthCheck;
