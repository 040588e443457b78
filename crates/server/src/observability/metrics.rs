//! The process's Prometheus recorder, the names of every metric the service exports, and the
//! middleware that counts and times requests.
//!
//! Other parts of the service record with the `metrics` macros and these names, for example
//! `metrics::counter!(names::LOGIN_THROTTLED).increment(1)` or
//! `metrics::counter!("dav_requests_total", "method" => "PROPFIND").increment(1)`; the recorder
//! installed here collects them all, wherever they are recorded.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The names of the metrics, exactly as the contract (API.md, "Service") lists them.
pub mod names {
    /// Counter `{method, route, status}`: requests answered.
    pub const HTTP_REQUESTS: &str = "http_requests_total";
    /// Histogram `{method, route}`: time to answer, in seconds.
    pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";
    /// Gauge `{state}` (`idle`, `in_use`, `max`): PostgreSQL pool connections, sampled at scrape.
    pub const DB_POOL_CONNECTIONS: &str = "db_pool_connections";
    /// Counter `{result}` (`hit`, `miss`, `error`): user-cache lookups (recorded by the cache).
    pub const USER_CACHE_REQUESTS: &str = "user_cache_requests_total";
    /// Counter `{kind, result}`: mails sent (`result` `sent`) or failed (`failed`).
    pub const MAILS: &str = "mails_total";
    /// Gauge: mails in the outbox not yet sent.
    pub const MAIL_OUTBOX_PENDING: &str = "mail_outbox_pending";
    /// Counter: logins refused by the login throttle.
    pub const LOGIN_THROTTLED: &str = "login_throttled_total";
    /// Counter `{method}`: CardDAV requests.
    pub const DAV_REQUESTS: &str = "dav_requests_total";
}

/// The `route` label of a request that matched no route: never the raw path, so the number of
/// series stays bounded whatever clients send.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The `method` label of a request whose method is none of the known ones: any token is a
/// method in HTTP, so labelling by it as sent would let any client add series without bound.
pub const OTHER_METHOD: &str = "other";

/// The methods labelled by their name: HTTP's (RFC 9110) and those WebDAV and CardDAV clients
/// send (RFC 4918, 3253, 5689); every other one is [`OTHER_METHOD`].
const KNOWN_METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "TRACE",
    "CONNECT",
    "PROPFIND",
    "PROPPATCH",
    "MKCOL",
    "COPY",
    "MOVE",
    "LOCK",
    "UNLOCK",
    "REPORT",
];

/// The `method` label of a request: its method if known, else [`OTHER_METHOD`].
fn method_label(method: &actix_web::http::Method) -> &'static str {
    KNOWN_METHODS.iter().copied().find(|known| *known == method.as_str()).unwrap_or(OTHER_METHOD)
}

/// The login route's pattern: a `429` there is a login refused by the throttle.
const LOGIN_ROUTE: &str = "/api/auth/login";

/// The `route` label of a request: its route's pattern as API.md writes it (`{id}` for the
/// contact's id, which the REST routes name `{contact_id}` after the API they replace), the
/// pattern of the CardDAV resource it names, or [`UNMATCHED_ROUTE`].
fn route_label(req: &ServiceRequest) -> String {
    match req.match_pattern() {
        Some(pattern) => pattern.replace("{contact_id}", "{id}"),
        None => contacts_carddav::paths::Target::parse(req.path())
            .map_or(UNMATCHED_ROUTE, |target| target.pattern())
            .to_owned(),
    }
}

/// Whether a request is CardDAV's (`/dav/…` or the discovery URL), counted by method.
fn is_dav(path: &str) -> bool {
    path == "/dav" || path.starts_with("/dav/") || path.starts_with("/.well-known/carddav")
}

/// Buckets of the latency histogram, in seconds: from a cached read to a slow bcrypt login.
const DURATION_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// How often the histograms' samples are folded into their buckets. The recorder keeps every
/// sample it is given until then: without this upkeep only a scrape folds them, so an instance
/// that nobody scrapes (no `METRICS_ADDR`, or Prometheus down) grew with every request it
/// answered (18 bytes a request: 11 MiB for each 600,000 `/me` requests, measured with wrk).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process-wide recorder's handle, installed on first use, with a thread of its own that
/// runs its upkeep every `UPKEEP_EVERY`. One per process: the `metrics` macros write to a
/// global recorder, so several apps in one test process share it.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(names::HTTP_REQUEST_DURATION.into()), DURATION_BUCKETS)
            .expect("the buckets are not empty")
            .install_recorder()
            .unwrap_or_else(|_| {
                // Another recorder was installed first (only possible in tests): keep a private one.
                PrometheusBuilder::new().build_recorder().handle()
            });
        let upkeep = handle.clone();
        let started = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
        if let Err(error) = started {
            // Scrapes still fold the samples; only an unscraped instance grows.
            tracing::warn!(%error, "cannot start the metrics upkeep thread");
        }
        describe();
        handle
    })
}

/// Describes every metric (the `# HELP` lines) and starts the counters that have a known label
/// set at zero, so dashboards show 0 rather than "no data" before the first event.
fn describe() {
    describe_counter!(names::HTTP_REQUESTS, "HTTP requests answered, by method, route pattern and status");
    describe_histogram!(names::HTTP_REQUEST_DURATION, Unit::Seconds, "Time to answer an HTTP request");
    describe_gauge!(names::DB_POOL_CONNECTIONS, "PostgreSQL pool connections by state (idle, in_use, max)");
    describe_counter!(names::USER_CACHE_REQUESTS, "User cache lookups by result (hit, miss, error)");
    describe_counter!(names::MAILS, "Mails by kind and result (sent, failed)");
    describe_gauge!(names::MAIL_OUTBOX_PENDING, "Mails waiting in the outbox");
    describe_counter!(names::LOGIN_THROTTLED, "Login attempts refused by the login throttle");
    describe_counter!(names::DAV_REQUESTS, "CardDAV requests by method");
    for result in ["hit", "miss", "error"] {
        counter!(names::USER_CACHE_REQUESTS, "result" => result).absolute(0);
    }
    counter!(names::LOGIN_THROTTLED).absolute(0);
    gauge!(names::MAIL_OUTBOX_PENDING).set(0.0);
}

/// PostgreSQL pool figures, as the metrics listener samples them at each scrape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFigures {
    /// Connections open and waiting for work.
    pub idle: usize,
    /// Connections lent to requests.
    pub in_use: usize,
    /// The pool's limit.
    pub max: usize,
}

/// Sets the `db_pool_connections` gauges.
pub fn record_pool(figures: PoolFigures) {
    gauge!(names::DB_POOL_CONNECTIONS, "state" => "idle").set(figures.idle as f64);
    gauge!(names::DB_POOL_CONNECTIONS, "state" => "in_use").set(figures.in_use as f64);
    gauge!(names::DB_POOL_CONNECTIONS, "state" => "max").set(figures.max as f64);
}

/// Counts one attempt at sending a mail of `kind` in `mails_total`.
pub fn record_mail(kind: &'static str, sent: bool) {
    counter!(names::MAILS, "kind" => kind, "result" => if sent { "sent" } else { "failed" }).increment(1);
}

/// Sets the `mail_outbox_pending` gauge (mails of every instance waiting in the outbox).
pub fn record_outbox_pending(pending: u64) {
    gauge!(names::MAIL_OUTBOX_PENDING).set(pending as f64);
}

/// Middleware (for `actix_web::middleware::from_fn`): counts and times every request by method
/// (a known one, else [`OTHER_METHOD`]), route pattern (such as `/api/contacts/{id}`) and status.
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method());
    let route = route_label(&req);
    if is_dav(req.path()) {
        counter!(names::DAV_REQUESTS, "method" => method).increment(1);
    }
    let outcome = next.call(req).await;
    let status = match &outcome {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    // The throttle's only answer on the login route is its `429`.
    if route == LOGIN_ROUTE && status == actix_web::http::StatusCode::TOO_MANY_REQUESTS {
        counter!(names::LOGIN_THROTTLED).increment(1);
    }
    let elapsed = started.elapsed().as_secs_f64();
    counter!(names::HTTP_REQUESTS, "method" => method, "route" => route.clone(), "status" => status.as_str().to_owned())
        .increment(1);
    histogram!(names::HTTP_REQUEST_DURATION, "method" => method, "route" => route).record(elapsed);
    outcome
}
