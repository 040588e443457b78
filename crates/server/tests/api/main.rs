//! Black-box tests of the running server: each test starts the real application on a random
//! port against its own fresh PostgreSQL database and an in-process SMTP server.
//! (One binary for all of them keeps link time down.)

mod architecture;
mod auth;
mod browser;
mod cli;
mod contacts;
mod drills;
mod errors;
mod health;
mod helpers;
mod openapi;
mod round_trips;
mod sessions;
mod users;
