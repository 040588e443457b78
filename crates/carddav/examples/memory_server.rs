//! Serves the CardDAV tree over the in-memory test backend, so a real client (vdirsyncer, its
//! storage test suite, a phone on the LAN) can be pointed at the protocol layer alone:
//!
//! ```text
//! cargo run -p contacts-carddav --features testing --example memory_server -- 127.0.0.1:5232
//! ```
//!
//! One account: `ada` / `ada-app-password` (or `Bearer ada-token`). Nothing is kept.

use actix_web::{App, HttpServer};
use contacts_carddav::testing::MemoryBackend;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:5232".to_owned());
    let backend = MemoryBackend::default();
    backend.add_user("ada", "ada@example.org", "ada-app-password", "ada-token");
    println!("CardDAV on http://{addr}/dav/ (ada / ada-app-password)");
    HttpServer::new(move || App::new().configure(contacts_carddav::configure(backend.clone())))
        .workers(1)
        .bind(addr)?
        .run()
        .await
}
