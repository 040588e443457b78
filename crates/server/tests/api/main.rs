//! Black-box tests of the running server: each test starts the real application on a random
//! port against its own fresh PostgreSQL database and an in-process SMTP server.
//! (One binary for all of them keeps link time down.)

mod architecture;
mod auth;
mod avatar_limits;
mod browser;
mod carddav;
mod cli;
mod contacts;
mod credentials;
mod drills;
mod errors;
mod headers;
mod health;
mod helpers;
mod login_throttle;
mod logs;
mod metrics;
mod object_storage;
mod openapi;
mod outbox;
mod reminders;
mod round_trips;
mod sessions;
mod slow_bodies;
mod users;
mod vcards;
