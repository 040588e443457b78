//! Shared test harness: throw-away PostgreSQL databases, an in-process SMTP server that
//! captures mails, and a headless browser, so tests exercise real parts instead of mocks.
#![deny(missing_docs)]

mod browser;
mod database;
mod mail;

pub use browser::Browser;
pub use database::TestDatabase;
pub use mail::{CapturedMail, MailCatcher};

/// A random lowercase hex string of `bytes * 2` characters, for unique names.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS has randomness");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}
