//! Observability of a running instance: the access log, Prometheus metrics of every request and
//! the separate listener that serves them. (The request's span with its `request_id` is
//! `contacts_http::security_headers`.)

pub mod access_log;
pub mod metrics;
pub mod metrics_listener;
