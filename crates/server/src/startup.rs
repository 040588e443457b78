//! [`Application`]: builds the adapters once, binds the listener and runs the HTTP server.
//! Tests start the app exactly as production does, on port 0.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::middleware::Logger;
use actix_web::{App, HttpServer, web};
use chrono::Duration;

use contacts_crypto::{BcryptHasher, JwtCodec};
use contacts_domain::SystemClock;
use contacts_domain::auth::{AuthService, AuthSettings};
use contacts_domain::contact::ContactService;
use contacts_http::AppState;
use contacts_postgres::{Database, PgContactRepository, PgUserRepository, run_migrations};
use contacts_smtp::{AnyMailer, LogMailer, SmtpMailer};

use crate::config::Settings;

/// Connections in the PostgreSQL pool, shared by all workers.
const DB_POOL_SIZE: usize = 16;

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
    #[error("SMTP_HOST/MAIL_FROM: {0}")]
    Mail(#[from] contacts_smtp::MailSettingsError),
    /// The listen address could not be bound.
    #[error("cannot listen on HOST:PORT: {0}")]
    Bind(#[from] std::io::Error),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A bound, ready-to-run server.
pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Migrates the database, builds every adapter and binds `HOST:PORT`.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        run_migrations(&settings.database_url).await?;
        let database = Database::connect_lazy(&settings.database_url, DB_POOL_SIZE)?;
        let state = web::Data::new(build_state(&settings, database).await?);

        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let port = listener.local_addr()?.port();
        let server = HttpServer::new(move || {
            App::new().wrap(Logger::new("%r %s %b %Dms")).configure(contacts_http::configure(state.clone()))
        })
        .listen(listener)?
        .run();
        Ok(Self { port, server })
    }

    /// The port actually bound (useful when `PORT` was 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until the process is asked to stop (SIGINT/SIGTERM), finishing in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn build_state(settings: &Settings, database: Database) -> Result<AppState, StartupError> {
    let cost = settings.bcrypt_cost;
    // The hasher computes one bcrypt hash up front; keep it off the async executor.
    let hasher = tokio::task::spawn_blocking(move || BcryptHasher::new(cost))
        .await
        .map_err(|e| StartupError::Other(e.to_string()))?
        .map_err(|e| StartupError::Other(e.to_string()))?;
    let mailer = match &settings.smtp {
        Some(smtp) => AnyMailer::Smtp(SmtpMailer::new(smtp)?),
        None => AnyMailer::Log(LogMailer),
    };
    let seconds = |s: u64| Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX / 1000));
    let auth_settings = AuthSettings {
        base_url: settings.app_base_url.clone(),
        access_ttl: seconds(settings.access_token_ttl),
        refresh_ttl: seconds(settings.refresh_token_ttl),
        email_token_ttl: seconds(settings.email_token_ttl),
    };
    let users = PgUserRepository::new(database.clone());
    Ok(AppState {
        auth: AuthService::new(
            users,
            hasher,
            JwtCodec::new(settings.jwt_secret.as_bytes()),
            mailer,
            SystemClock,
            auth_settings,
        ),
        contacts: ContactService::new(PgContactRepository::new(database.clone()), SystemClock),
        database,
    })
}
