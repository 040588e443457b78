//! The command line: `serve` (the default), `migrate`, `set-role` and `send-reminders`.

use std::process::ExitCode;

use anyhow::{Context, bail};

use contacts_cache::{AnyCache, MemoryCache, RedisCache};
use contacts_domain::Error;
use contacts_domain::user::{CachedUsers, Role, UserService};
use contacts_postgres::{Database, PgUserRepository, create_database_if_missing, run_migrations};

use crate::config::{self, Environment, Settings, Source};
use crate::startup::Application;
use crate::telemetry;

const USAGE: &str =
    "usage: contacts-api [serve | migrate | set-role <email> <user|admin> | send-reminders [--at <RFC 3339 time>]]";

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Migrate the database, then serve the API.
    Serve,
    /// Only migrate the database.
    Migrate,
    /// Change a user's role.
    SetRole {
        /// The user's email.
        email: String,
        /// The new role.
        role: Role,
    },
    /// Run one birthday reminder pass and print how many mails it queued.
    SendReminders {
        /// The instant the pass acts as if it were; `None`: now.
        at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Print usage.
    Help,
}

impl Command {
    /// Parses the arguments after the program name.
    pub fn parse(args: &[String]) -> Result<Self, String> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match args.as_slice() {
            [] | ["serve"] => Ok(Self::Serve),
            ["migrate"] => Ok(Self::Migrate),
            ["set-role", email, role] => Ok(Self::SetRole { email: (*email).to_owned(), role: role.parse()? }),
            ["send-reminders"] => Ok(Self::SendReminders { at: None }),
            ["send-reminders", "--at", at] => chrono::DateTime::parse_from_rfc3339(at)
                .map(|at| Self::SendReminders { at: Some(at.with_timezone(&chrono::Utc)) })
                .map_err(|_| format!("--at {at:?} is not an RFC 3339 time")),
            ["-h" | "--help" | "help"] => Ok(Self::Help),
            _ => Err(USAGE.to_owned()),
        }
    }
}

/// Runs the command line and turns the outcome into an exit code; errors are one line on
/// standard error.
pub async fn run(args: Vec<String>) -> ExitCode {
    if let Err(error) = config::load_dotenv() {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    let command = match Command::parse(&args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    let to = if command == Command::Serve { telemetry::LogTo::Stdout } else { telemetry::LogTo::Stderr };
    let logging = config::log_format(&Environment).map_err(|e| e.to_string()).and_then(|f| telemetry::init_as(f, to));
    if let Err(error) = logging {
        eprintln!("error: {error}");
        return ExitCode::FAILURE;
    }
    match execute(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole cause chain on one line: `outer: inner: root`.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command. Errors keep their causes (`anyhow` at the binary's edge only) so the one
/// line printed names the root of the problem.
async fn execute(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Command::Serve => {
            let settings = Settings::from_source(&Environment)?;
            ensure_database(&settings.database_url).await?;
            let app = Application::build(settings).await?;
            tracing::info!(port = app.port(), "contacts-api listening");
            Ok(app.run_until_stopped().await?)
        }
        Command::Migrate => {
            let url = config::database_url(&Environment)?;
            ensure_database(&url).await?;
            let applied = run_migrations(&url).await?;
            println!("applied {applied} migration(s)");
            Ok(())
        }
        Command::SendReminders { at } => send_reminders(at).await,
        Command::SetRole { email, role } => {
            let url = config::database_url(&Environment)?;
            let database = Database::connect_lazy(&url, 1)?;
            // With Redis, the running servers' cached copy is dropped here. Without it (the
            // servers keep users in their own memory, or this shell was not given REDIS_URL),
            // PostgreSQL tells every server of the change at commit (migration
            // 2026-12-03-000130_user_change_notices) and each drops its copy, its own or
            // Redis's, within milliseconds: the command waits that long and more before it
            // returns, so what its caller does next sees the new role.
            let redis = Environment.get("REDIS_URL");
            let cache = match &redis {
                Some(redis) => AnyCache::Redis(RedisCache::new(redis, 1)?),
                None => AnyCache::Memory(MemoryCache::new(std::time::Duration::from_secs(1))),
            };
            let users = UserService::new(CachedUsers::new(PgUserRepository::new(database), cache));
            match users.set_role(&email, role).await {
                Ok(user) => {
                    if redis.is_none() {
                        tokio::time::sleep(NOTICES_HANDLED_WITHIN).await;
                    }
                    println!("{} is now {}", user.email, user.role);
                    Ok(())
                }
                Err(Error::NotFound(_)) => bail!("no user with email {email:?}"),
                Err(Error::Invalid(_)) => bail!("{email:?} is not a valid email address"),
                Err(other) => Err(anyhow::Error::new(other).context("could not change the role")),
            }
        }
    }
}

/// How long `set-role` without Redis waits for the servers to have handled PostgreSQL's notice
/// of the change (they do within milliseconds; a request made at once after the command saw the
/// old role about one time in five).
const NOTICES_HANDLED_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// One reminder pass against the configured database; the running servers' delivery workers
/// send what it queues (they poll the outbox).
async fn send_reminders(at: Option<chrono::DateTime<chrono::Utc>>) -> anyhow::Result<()> {
    let settings = Settings::from_source(&Environment)?;
    let database = Database::connect_lazy(&settings.database_url, 2)?;
    let pass = crate::reminders::pass(&settings, database, Default::default());
    let queued = match at {
        Some(at) => pass.run_at(at).await,
        None => pass.run().await,
    }
    .context("could not run the reminder pass")?;
    println!("{queued}");
    Ok(())
}

async fn ensure_database(url: &str) -> anyhow::Result<()> {
    if create_database_if_missing(url).await? {
        tracing::info!("created the database named in DATABASE_URL");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_every_command() {
        assert_eq!(Command::parse(&args(&[])), Ok(Command::Serve));
        assert_eq!(Command::parse(&args(&["serve"])), Ok(Command::Serve));
        assert_eq!(Command::parse(&args(&["migrate"])), Ok(Command::Migrate));
        assert_eq!(Command::parse(&args(&["--help"])), Ok(Command::Help));
        assert_eq!(
            Command::parse(&args(&["set-role", "a@b.co", "admin"])),
            Ok(Command::SetRole { email: "a@b.co".into(), role: Role::Admin })
        );
    }

    #[test]
    fn refuses_unknown_commands_and_roles() {
        assert!(Command::parse(&args(&["set-role", "a@b.co", "root"])).unwrap_err().contains("root"));
        assert!(Command::parse(&args(&["set-role", "a@b.co"])).is_err());
        assert!(Command::parse(&args(&["launch"])).is_err());
        assert!(Command::parse(&args(&["send-reminders", "--at", "tomorrow"])).unwrap_err().contains("tomorrow"));
        assert!(Command::parse(&args(&["send-reminders", "--at"])).is_err());
    }

    #[test]
    fn send_reminders_takes_an_optional_rfc_3339_time() {
        assert_eq!(Command::parse(&args(&["send-reminders"])), Ok(Command::SendReminders { at: None }));
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-29T08:00:00+02:00").unwrap().with_timezone(&chrono::Utc);
        assert_eq!(
            Command::parse(&args(&["send-reminders", "--at", "2026-03-29T08:00:00+02:00"])),
            Ok(Command::SendReminders { at: Some(at) })
        );
    }
}
