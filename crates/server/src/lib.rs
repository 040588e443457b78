//! The `contacts-api` server: configuration, telemetry, startup and the command line. It
//! builds the adapters once and hands them to the HTTP layer.
#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod dav;
pub mod delivery;
pub mod observability;
pub mod reminders;
pub mod startup;
pub mod telemetry;

pub use config::{ConfigError, Settings};
pub use startup::{Application, StartupError};
