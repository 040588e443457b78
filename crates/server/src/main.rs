//! Entry point: `contacts-api [serve | migrate | set-role <email> <user|admin>]`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    contacts_api::cli::run(std::env::args().skip(1).collect()).await
}
