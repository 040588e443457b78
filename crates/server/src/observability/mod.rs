//! Observability of a running instance: a span a request carrying its `request_id` (so every
//! log line of the request names it), Prometheus metrics of every request, and the separate
//! listener that serves them.

pub mod metrics;
pub mod metrics_listener;
pub mod request_span;
