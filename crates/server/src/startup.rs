//! [`Application`]: builds the adapters once, binds the listener and runs the HTTP server.
//! Tests start the app exactly as production does, on port 0.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use chrono::Duration;

use async_trait::async_trait;
use contacts_avatars::{AnyAvatarStore, FsAvatarStore, S3AvatarStore, S3Location};
use contacts_cache::{AnyCache, MemoryCache, RedisCache};
use contacts_crypto::{BcryptHasher, JwtCodec};
use contacts_domain::addressbook::{AddressBookStore, AppPasswordService, TOMBSTONE_RETENTION};
use contacts_domain::auth::{AuthPorts, AuthService, AuthSettings};
use contacts_domain::contact::ContactService;
use contacts_domain::mail::{DeliverySettings, DeliveryWorker, Links};
use contacts_domain::throttle::{LoginThrottle, ThrottleSettings};
use contacts_domain::user::{CachedUsers, ProfilePorts, ProfileService, UserCache};
use contacts_domain::{Clock, HealthCheck, SystemClock};
use contacts_http::AppState;
use contacts_postgres::{
    Database, FloodGuard, PgAddressBooks, PgAppPasswords, PgContactRepository, PgMailOutbox, PgTokenStore,
    PgUserRepository, UserChange, listen_for_user_changes, run_migrations,
};
use contacts_smtp::{AnyMailer, LogMailer, SmtpMailer};

use tokio::sync::oneshot;

use crate::config::{AvatarStoreKind, Settings};
use crate::dav::DavStore;
use crate::observability::access_log;
use crate::observability::metrics::{self, PoolFigures};
use crate::observability::metrics_listener;

/// Drops the cached copy of every user changed anywhere, as PostgreSQL announces the change:
/// a change made where the cache could not be reached (`set-role` without Redis or while Redis
/// was down, an operator's SQL) is seen on the next request all the same.
///
/// Without Redis the copies are this process's own, and a listener that lost notices (its
/// connection broke) forgets them all. With Redis every instance drops the shared copy, and a
/// listener that lost notices drops the copies its instance served (each instance listens for
/// the users it serves; a failover that cuts every listener makes each drop its own); a drop
/// Redis refuses is remembered by the cache (never served, dropped when Redis answers).
/// `listening` is told once the first connection listens.
async fn forget_changed_users(database_url: String, cache: AnyCache, listening: oneshot::Sender<()>) {
    let listening = std::sync::Mutex::new(Some(listening));
    listen_for_user_changes(database_url, move |change| {
        if change == UserChange::Any
            && let Some(listening) = listening.lock().ok().and_then(|mut first| first.take())
        {
            let _ = listening.send(());
        }
        match (&cache, change) {
            (AnyCache::Memory(memory), UserChange::One(id)) => memory.forget_user(id),
            (AnyCache::Memory(memory), UserChange::Any) => memory.forget_users(),
            (AnyCache::Redis(redis), UserChange::One(id)) => {
                let redis = redis.clone();
                tokio::spawn(async move { redis.remove(id).await });
            }
            (AnyCache::Redis(redis), UserChange::Any) => {
                let redis = redis.clone();
                tokio::spawn(async move {
                    match redis.forget_served().await {
                        Ok(0) => {}
                        Ok(dropped) => tracing::info!(dropped, "listening again: dropped the users served meanwhile"),
                        Err(error) => tracing::warn!(error = %error, "could not drop the users served; dropped later"),
                    }
                });
            }
        }
    })
    .await
}

/// How long the start waits for the listener of user changes before it serves anyway (with a
/// warning): a copy cached while nothing listens would miss a change made outside the server.
const LISTENING_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Connections in the PostgreSQL pool, shared by all workers.
const DB_POOL_SIZE: usize = 16;

/// Open connections one worker serves at most; further ones wait in the listen backlog.
const MAX_CONNECTIONS_PER_WORKER: usize = 2_048;

/// Connections the OS may queue before the workers accept them.
const LISTEN_BACKLOG: i32 = 1_024;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Migrating the database failed.
    #[error(transparent)]
    Migration(#[from] contacts_postgres::MigrationError),
    /// The pool could not be configured.
    #[error(transparent)]
    Database(#[from] contacts_postgres::DatabaseError),
    /// The mail settings are unusable.
    #[error("SMTP_HOST/MAIL_FROM are unusable")]
    Mail(#[from] contacts_smtp::MailSettingsError),
    /// The Redis URL is unusable.
    #[error(transparent)]
    Cache(#[from] contacts_cache::RedisSettingsError),
    /// The listen address could not be bound.
    #[error("cannot listen on HOST:PORT")]
    Bind(#[from] std::io::Error),
    /// The avatar folder cannot be created.
    #[error("AVATAR_DIR is invalid: {}", dir.display())]
    AvatarDir {
        /// The folder configured.
        dir: std::path::PathBuf,
        /// Why it could not be created.
        #[source]
        source: std::io::Error,
    },
    /// The password hasher could not be set up (a bad cost).
    #[error("BCRYPT_COST is unusable")]
    Hasher(#[source] contacts_domain::Error),
    /// A start-up task on a blocking thread panicked or was cancelled.
    #[error("a start-up task failed")]
    Task(#[from] tokio::task::JoinError),
    /// The metrics address could not be bound.
    #[error("cannot listen on METRICS_ADDR")]
    MetricsBind(#[source] std::io::Error),
    /// The S3 settings are unusable.
    #[error("S3_ENDPOINT/S3_REGION/S3_BUCKET are unusable")]
    AvatarStore(#[from] contacts_avatars::S3SettingsError),
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<(u16, Server)>,
    /// Maintenance and reminder passes: stopped once the server has finished its requests,
    /// before the pool closes under them. A pass cut short rolls back; the users it held are
    /// leased in the database, so another instance (or the next start) takes them up.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// The mail delivery loop, told to stop between two batches, so that no mail is cut off
    /// between being sent and being marked sent (which would send it twice).
    delivery: (tokio::task::JoinHandle<()>, tokio::sync::watch::Sender<bool>),
}

/// How long a stopping server waits for the mail batch in flight.
const DELIVERY_STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

impl Application {
    /// Migrates the database, builds every adapter and binds `HOST:PORT`.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        // A folder that cannot be created is a configuration mistake: say so now, not at the
        // first upload.
        if settings.avatar_store == AvatarStoreKind::Fs {
            let dir = settings.avatar_dir.clone();
            tokio::task::spawn_blocking(move || std::fs::create_dir_all(&dir))
                .await?
                .map_err(|source| StartupError::AvatarDir { dir: settings.avatar_dir.clone(), source })?;
        }
        // Installed before anything records, so no early measurement is lost.
        metrics::handle();
        run_migrations(&settings.database_url).await?;
        let database = Database::connect_lazy(&settings.database_url, DB_POOL_SIZE)?;
        let metrics = match settings.metrics_addr {
            Some(addr) => {
                let listener = TcpListener::bind(addr).map_err(StartupError::MetricsBind)?;
                let port = listener.local_addr().map_err(StartupError::MetricsBind)?.port();
                let pool = database.clone();
                let sample: metrics_listener::Sampler = Arc::new(move || {
                    let usage = pool.usage();
                    metrics::record_pool(PoolFigures { idle: usage.idle, in_use: usage.in_use, max: usage.max });
                });
                Some((port, metrics_listener::serve(listener, sample).map_err(StartupError::MetricsBind)?))
            }
            None => None,
        };
        let outbox = PgMailOutbox::new(
            database.clone(),
            FloodGuard { cooldown_seconds: settings.mail_cooldown_seconds, daily_limit: settings.mail_daily_limit },
        );
        let cache = build_cache(&settings)?;
        let Services { state, auth, login_throttle } =
            build_services(&settings, database.clone(), outbox.clone(), cache.clone()).await?;
        let app_passwords = web::Data::new(AppPasswordService::new(PgAppPasswords::new(database.clone()), SystemClock));
        let books = PgAddressBooks::new(database.clone());
        // The REST login's throttle itself: with the in-process cache a second one would count
        // apart, and an attacker would get the guesses of both doors.
        let dav = DavStore::new(
            books.clone(),
            app_passwords.clone(),
            state.auth.clone(),
            login_throttle,
            settings.trusted_proxies.clone(),
            state.card_work.clone(),
        );
        let state = web::Data::new(state);
        let (stop_delivery, stopping) = tokio::sync::watch::channel(false);
        let worker = delivery_worker(&settings, outbox.clone())?;
        let delivery = (tokio::spawn(crate::delivery::run(worker, outbox.queued(), stopping)), stop_delivery);
        let mut background =
            vec![tokio::spawn(run_maintenance(auth.clone(), books)), tokio::spawn(take_up_left_mail_requests(auth))];
        let (listening, heard) = oneshot::channel();
        background.push(tokio::spawn(forget_changed_users(settings.database_url.clone(), cache, listening)));
        // Served only once changes made elsewhere are heard: a `set-role` right after the start
        // (a deployment's next step) must be seen by the next request.
        if tokio::time::timeout(LISTENING_WITHIN, heard).await.is_err() {
            tracing::warn!("not yet hearing changes to users made outside this server; serving anyway");
        }
        if settings.reminder_scan_seconds > 0 {
            let pass = crate::reminders::pass(&settings, database.clone(), outbox.queued());
            let every = std::time::Duration::from_secs(settings.reminder_scan_seconds);
            background.push(tokio::spawn(crate::reminders::run(pass, every)));
        }

        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        // actix-web's `backlog()` only applies to sockets it binds itself; listening again on
        // ours sets the queue length.
        socket2::SockRef::from(&listener).listen(LISTEN_BACKLOG)?;
        let port = listener.local_addr()?.port();
        let origins = settings.cors_origins.clone();
        let body_timeout = settings.request_body_timeout;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(contacts_http::body_deadline(body_timeout))
                .wrap(contacts_http::cors(&origins))
                .wrap(contacts_http::cors_refusals())
                .wrap(from_fn(access_log::log_requests))
                .wrap(from_fn(metrics::track_requests))
                // Outermost, so every response (errors included) gets the headers, and every log
                // line of the request (the access log's included) the request id.
                .wrap(contacts_http::security_headers())
                // Before the REST API, whose catch-all scope (with its JSON error rewriting)
                // would otherwise answer `/dav`, `/.well-known/carddav` and these paths.
                .configure(contacts_carddav::configure(dav.clone()))
                .configure(contacts_http::configure_app_passwords(app_passwords.clone()))
                .configure(contacts_http::configure(state.clone()))
        })
        // Headers must arrive within 5 s (actix-web's default, kept explicit); bodies within
        // `body_timeout` (the middleware above). Connections are capped so a flood of idle
        // sockets cannot exhaust memory or file descriptors.
        .client_request_timeout(std::time::Duration::from_secs(5))
        .max_connections(MAX_CONNECTIONS_PER_WORKER)
        // Each write goes out at once. actix leaves Nagle's algorithm on, so an answer written
        // in more than one piece (a long page, a birthday list, an export, a CardDAV listing)
        // had its last piece held until the client acknowledged the one before, which a
        // client delays by up to 40 ms: a page of 101 contacts took 44 ms for one client,
        // 1.5 ms with this (`docs/performance.rst`, "Every write sent at once").
        .tcp_nodelay(true)
        // Signals are handled in `run_until_stopped`, which stops background work first.
        .disable_signals()
        .listen(listener)?
        .run();
        Ok(Self { port, server, metrics, background, delivery })
    }

    /// The port of the metrics listener, when `METRICS_ADDR` is set (useful when its port was 0).
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// The port actually bound (useful when `PORT` was 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM). Then the background work
    /// stops first (the mail worker after its batch), while the HTTP workers, whose runtimes
    /// drive some of the pool's connections, still run; then the server stops gracefully,
    /// finishing in-flight requests. The metrics listener runs alongside and stops last.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let metrics = self.metrics.map(|(_, server)| {
            let handle = server.handle();
            tokio::spawn(server);
            handle
        });
        let http = self.server.handle();
        let serving = tokio::spawn(self.server);
        stop_requested().await;
        tracing::info!("stop requested: ending background work, then finishing in-flight requests");
        for task in &self.background {
            task.abort();
        }
        let (delivery, stop_delivery) = self.delivery;
        let _ = stop_delivery.send(true);
        if tokio::time::timeout(DELIVERY_STOP_TIMEOUT, delivery).await.is_err() {
            tracing::warn!("the mail batch in flight did not finish in time; its mails will be retried");
        }
        http.stop(true).await;
        let served = serving.await.map_err(std::io::Error::other)?;
        if let Some(handle) = metrics {
            handle.stop(true).await;
        }
        served
    }
}

/// Resolves on SIGTERM (an orchestrator stopping the instance) or SIGINT (Ctrl-C).
async fn stop_requested() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = terminate => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// How often the periodic maintenance runs (the first run is at start).
const PURGE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The periodic maintenance, for as long as the server runs: deletes expired refresh and reset
/// tokens, and the CardDAV tombstones older than [`TOMBSTONE_RETENTION`] (raising the books'
/// sync floors, so older sync tokens answer `valid-sync-token`). Every instance runs it; each
/// step is safe to run concurrently.
async fn run_maintenance(auth: Arc<AuthApi>, books: PgAddressBooks) {
    let mut interval = tokio::time::interval(PURGE_INTERVAL);
    loop {
        interval.tick().await;
        match auth.purge_expired_tokens().await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged expired tokens"),
            Err(error) => tracing::warn!(error = %error, "could not purge expired tokens"),
        }
        match books.purge_tombstones(SystemClock.now() - TOMBSTONE_RETENTION).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "purged old CardDAV tombstones"),
            Err(error) => tracing::warn!(error = %error, "could not purge CardDAV tombstones"),
        }
    }
}

/// How often an instance looks for mail requests whose instance died before it handled them
/// (they are left to it for a minute first).
const LEFT_REQUESTS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Handles, for as long as the server runs, the mail requests (`request_email`,
/// `request_password_reset`) another instance answered but did not live to handle: a reset
/// link the user was told about is sent all the same.
async fn take_up_left_mail_requests(auth: Arc<AuthApi>) {
    let mut interval = tokio::time::interval(LEFT_REQUESTS_EVERY);
    loop {
        interval.tick().await;
        match auth.handle_left_mail_requests(100).await {
            Ok(0) => {}
            Ok(handled) => tracing::info!(handled, "handled mail requests an instance left"),
            Err(error) => tracing::warn!(error = %error, "could not handle the mail requests left"),
        }
    }
}

/// Users read through the cache (Redis or in process), written to PostgreSQL.
type Users = CachedUsers<PgUserRepository, AnyCache>;
/// The authentication service wired to its production adapters.
type AuthApi = AuthService<Users, BcryptHasher, JwtCodec, PgTokenStore, PgMailOutbox, SystemClock>;

/// What the composition root hands out: the inbound adapter's state, the concrete
/// authentication service for the background job that purges expired tokens, and the login
/// throttle (the one in `state`) for CardDAV's sign-ins.
struct Services {
    state: AppState,
    auth: Arc<AuthApi>,
    login_throttle: Arc<LoginThrottle<AnyCache>>,
}

/// The mail delivery worker: SMTP when `SMTP_HOST` is set, otherwise the log, with a warning
/// (once, here) that the links it writes there are live.
fn delivery_worker(settings: &Settings, outbox: PgMailOutbox) -> Result<crate::delivery::Worker, StartupError> {
    let mailer = match &settings.smtp {
        Some(smtp) => AnyMailer::Smtp(SmtpMailer::new(smtp)?),
        None => {
            tracing::warn!(
                "SMTP_HOST is unset: mails are written to the log instead of being sent, and the links in them \
                 (account confirmation, password reset) are live"
            );
            AnyMailer::Log(LogMailer)
        }
    };
    let hours = i64::try_from(settings.mail_retry_hours).unwrap_or(i64::MAX / 3_600_000);
    let delivery = DeliverySettings { retry_window: Duration::hours(hours), ..DeliverySettings::default() };
    Ok(DeliveryWorker::new(outbox, mailer, SystemClock, delivery))
}

/// The composition root: picks an adapter for every port, builds the services once, and hands
/// them to the inbound adapter as use-case trait objects.
async fn build_services(
    settings: &Settings,
    database: Database,
    outbox: PgMailOutbox,
    cache: AnyCache,
) -> Result<Services, StartupError> {
    let cost = settings.bcrypt_cost;
    // The hasher computes one bcrypt hash up front; keep it off the async executor.
    let hasher = tokio::task::spawn_blocking(move || BcryptHasher::new(cost)).await?.map_err(StartupError::Hasher)?;
    let seconds = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
    let auth_settings = AuthSettings {
        links: Links::new(&settings.app_base_url, contacts_http::link_paths()),
        access_ttl: seconds(settings.access_token_ttl),
        refresh_ttl: seconds(settings.refresh_token_ttl),
        email_token_ttl: seconds(settings.email_token_ttl),
        reset_token_ttl: seconds(settings.reset_token_ttl),
    };
    let users = CachedUsers::new(PgUserRepository::new(database.clone()), cache.clone());
    let avatars = build_avatar_store(settings)?;
    let profiles = ProfileService::new(
        ProfilePorts { users: users.clone(), limiter: cache.clone(), avatars: avatars.clone(), clock: SystemClock },
        settings.rate_limit_me_per_minute,
    );
    let auth = Arc::new(AuthService::new(
        AuthPorts {
            users,
            hasher,
            tokens: JwtCodec::new(settings.jwt_secret.as_bytes()),
            store: PgTokenStore::new(database.clone()),
            outbox,
            clock: SystemClock,
        },
        auth_settings,
    ));
    let login_throttle = Arc::new(LoginThrottle::new(cache.clone(), throttle_settings(settings)));
    let state = AppState {
        auth: auth.clone(),
        contacts: Arc::new(ContactService::new(PgContactRepository::new(database.clone()), SystemClock)),
        profiles: Arc::new(profiles),
        reminders: Arc::new(contacts_domain::reminders::ReminderService::new(
            contacts_postgres::PgReminderStore::new(database.clone(), Arc::new(tokio::sync::Notify::new())),
            JwtCodec::new(settings.jwt_secret.as_bytes()),
            SystemClock,
        )),
        health: Arc::new(Probes { database, cache: cache.clone(), avatars }),
        max_avatar_bytes: settings.max_avatar_bytes,
        max_import_bytes: settings.max_import_bytes,
        login_throttle: login_throttle.clone(),
        trusted_proxies: settings.trusted_proxies.clone(),
        // One bound for card parsing and rendering, REST's and CardDAV's alike.
        card_work: contacts_http::CardWork::per_core(),
        // A long page waits for its turn as long as any request waits for a connection.
        long_pages: contacts_http::LongPages::per_core(contacts_postgres::CONNECT_TIMEOUT),
        kept: Arc::new(contacts_http::KeptAnswers::new(
            usize::try_from(settings.list_cache_bytes).unwrap_or(usize::MAX),
        )),
    };
    Ok(Services { state, auth, login_throttle })
}

/// The readiness probes over the adapters this process picked.
struct Probes {
    database: Database,
    cache: AnyCache,
    avatars: AnyAvatarStore,
}

#[async_trait(?Send)]
impl HealthCheck for Probes {
    async fn database(&self) -> Result<(), contacts_domain::Error> {
        self.database.ping().await
    }

    async fn cache(&self) -> bool {
        self.cache.is_healthy().await
    }

    async fn avatars(&self) -> bool {
        self.avatars.is_healthy().await
    }
}

/// Files under `AVATAR_DIR`, or the bucket of `AVATAR_STORE=s3`.
fn build_avatar_store(settings: &Settings) -> Result<AnyAvatarStore, StartupError> {
    Ok(match &settings.avatar_store {
        AvatarStoreKind::Fs => AnyAvatarStore::Fs(FsAvatarStore::new(&settings.avatar_dir, &settings.app_base_url)),
        AvatarStoreKind::S3(s3) => {
            let location = S3Location {
                bucket: s3.bucket.clone(),
                region: s3.region.clone(),
                endpoint: s3.endpoint.clone(),
                access_key_id: s3.access_key_id.clone(),
                secret_access_key: s3.secret_access_key.clone(),
            };
            AnyAvatarStore::S3(S3AvatarStore::new(&location, &settings.app_base_url)?)
        }
    })
}

/// The login throttle's limits (REST logins and CardDAV sign-ins alike).
fn throttle_settings(settings: &Settings) -> ThrottleSettings {
    ThrottleSettings {
        max_failures: settings.login_max_failures,
        max_failures_per_ip: settings.login_max_failures_per_ip,
        window_seconds: settings.login_lockout_seconds,
    }
}

/// Redis when `REDIS_URL` is set, shared by every instance; otherwise an in-process cache.
pub fn build_cache(settings: &Settings) -> Result<AnyCache, StartupError> {
    Ok(match &settings.redis_url {
        Some(url) => AnyCache::Redis(RedisCache::new(url, settings.user_cache_ttl)?),
        None => AnyCache::Memory(MemoryCache::new(std::time::Duration::from_secs(settings.user_cache_ttl))),
    })
}
