//! Shared test harness: throw-away PostgreSQL databases, an in-process SMTP server that
//! captures mails, private PostgreSQL and Redis servers to stop and start, an S3-compatible server, and a headless
//! browser, so tests exercise real parts instead of mocks.
#![deny(missing_docs)]

mod browser;
mod database;
mod images;
mod mail;
mod s3;
mod servers;
mod tools;

pub use browser::Browser;
pub use database::TestDatabase;
pub use images::png_declaring;
pub use mail::{CapturedMail, MailCatcher};
pub use s3::{S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3Server};
pub use servers::{PostgresServer, RedisServer};
pub use tools::{PromSample, parse_prometheus};

/// A builder of HTTP clients for tests. reqwest is built with rustls but no crypto provider
/// (the avatar adapter installs ring's, see the workspace's `Cargo.toml`), so the provider is
/// installed here first, once per process.
pub fn http_client() -> reqwest::ClientBuilder {
    // An error means a provider is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}

/// A random lowercase hex string of `bytes * 2` characters, for unique names.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the OS has randomness");
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// A local port nothing listens on right now, for "server down" tests and private servers.
pub fn unused_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}
