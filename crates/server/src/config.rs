//! [`Settings`]: the environment variables of the contract, parsed and checked at start.
//!
//! A `.env` file in the working directory is read first; real environment variables win. Any
//! mistake stops the process with a one-line message naming the variable (for a `.env` line
//! that does not parse, the line too).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use contacts_http::TrustedProxies;
use contacts_smtp::{SmtpSettings, SmtpTls};

/// A configuration mistake, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset or empty.
    #[error("{0} is required but not set")]
    Missing(&'static str),
    /// A variable is set to something unusable.
    #[error("{var} is invalid: {reason}")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The `.env` file exists but cannot be used: unreadable, or a line that does not parse
    /// (dotenv stops there, so every later variable would be dropped without a word).
    #[error("{file} {problem}")]
    Dotenv {
        /// The file, as given.
        file: String,
        /// Where and what: the line, and the variable it sets if its name can be read.
        problem: String,
    },
}

/// Everything the server is configured with.
#[derive(Clone)]
pub struct Settings {
    /// PostgreSQL URL.
    pub database_url: String,
    /// Redis URL; `None` selects the in-process cache.
    pub redis_url: Option<String>,
    /// Signing key for tokens, at least 32 bytes.
    pub jwt_secret: String,
    /// Public base URL for links in emails, without a trailing slash.
    pub app_base_url: String,
    /// Listen address.
    pub host: String,
    /// Listen port; 0 lets the OS choose (tests).
    pub port: u16,
    /// Outgoing mail server; `None` writes mails to the log.
    pub smtp: Option<SmtpSettings>,
    /// Access-token lifetime, seconds.
    pub access_token_ttl: u64,
    /// Refresh-token lifetime, seconds.
    pub refresh_token_ttl: u64,
    /// Email-confirmation-token lifetime, seconds.
    pub email_token_ttl: u64,
    /// Password-reset-token lifetime, seconds.
    pub reset_token_ttl: u64,
    /// Lifetime of a cached user, seconds.
    pub user_cache_ttl: u64,
    /// Requests a minute per user allowed on GET `/api/users/me`.
    pub rate_limit_me_per_minute: u64,
    /// Origins allowed by CORS.
    pub cors_origins: Vec<String>,
    /// Where uploaded avatars are kept.
    pub avatar_dir: PathBuf,
    /// Largest avatar upload, bytes.
    pub max_avatar_bytes: u64,
    /// Largest vCard import body, bytes.
    pub max_import_bytes: u64,
    /// bcrypt work factor, 4–31.
    pub bcrypt_cost: u32,
    /// Where avatars are kept: a folder or an S3-compatible bucket.
    pub avatar_store: AvatarStoreKind,
    /// Address of the Prometheus metrics listener; `None`: no metrics listener.
    pub metrics_addr: Option<SocketAddr>,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// How long a request body may take after its headers: the contract's 10 s, not read from
    /// the environment; tests shorten it to stay fast.
    pub request_body_timeout: std::time::Duration,
    /// Least time between two mails to one address, seconds; 0 turns the cooldown off.
    pub mail_cooldown_seconds: u64,
    /// Most mails to one address in one UTC day.
    pub mail_daily_limit: u64,
    /// How long a failing mail is retried, hours.
    pub mail_retry_hours: u64,
    /// Failed logins for one name from one address before that pair is locked out.
    pub login_max_failures: u64,
    /// Failed logins from one address, whatever the names, before it is locked out.
    pub login_max_failures_per_ip: u64,
    /// How long the failures are counted (and a lockout lasts), seconds.
    pub login_lockout_seconds: u64,
    /// Proxies (addresses and CIDR ranges) whose last `X-Forwarded-For` hop is believed.
    pub trusted_proxies: TrustedProxies,
    /// How often this instance runs a birthday reminder pass, seconds; 0: never.
    pub reminder_scan_seconds: u64,
    /// The most bytes of list pages' and birthday lists' JSON this instance keeps to answer
    /// again (half for each); 0: none.
    pub list_cache_bytes: u64,
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Readable text, one line a record: the default, for people.
    #[default]
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// `AVATAR_STORE`: where avatars are kept.
#[derive(Clone, PartialEq, Eq)]
pub enum AvatarStoreKind {
    /// Files under `AVATAR_DIR`: one instance, or a volume shared by all.
    Fs,
    /// An S3-compatible bucket shared by every instance.
    S3(S3Settings),
}

impl std::fmt::Debug for AvatarStoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Fs => f.write_str("Fs"),
            // The keys stay out of logs.
            Self::S3(s3) => f.debug_struct("S3").field("bucket", &s3.bucket).field("endpoint", &s3.endpoint).finish(),
        }
    }
}

/// The bucket and credentials of `AVATAR_STORE=s3`.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// `S3_BUCKET`.
    pub bucket: String,
    /// `S3_REGION` (default `us-east-1`).
    pub region: String,
    /// `S3_ENDPOINT` for servers other than AWS (addressed path-style); `None`: AWS itself.
    pub endpoint: Option<String>,
    /// `S3_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `S3_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
}

/// `LOG_FORMAT`, checked: read before anything else, since it decides how the rest is logged.
pub fn log_format(source: &impl Source) -> Result<LogFormat, ConfigError> {
    match source.get("LOG_FORMAT").as_deref().map(str::trim) {
        None | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => {
            Err(ConfigError::Invalid { var: "LOG_FORMAT", reason: format!("{other:?}: must be text or json") })
        }
    }
}

/// `METRICS_ADDR`: an address and port (`0.0.0.0:9100`), or a host name and port
/// (`localhost:9100`), resolved once at start to its first address.
fn metrics_addr(source: &impl Source) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(raw) = source.get("METRICS_ADDR") else { return Ok(None) };
    let invalid = |e: &dyn std::fmt::Display| ConfigError::Invalid {
        var: "METRICS_ADDR",
        reason: format!("{raw:?}: {e} (expected an address and port such as 0.0.0.0:9100)"),
    };
    if let Ok(address) = raw.trim().parse() {
        return Ok(Some(address));
    }
    let mut found = std::net::ToSocketAddrs::to_socket_addrs(raw.trim()).map_err(|e| invalid(&e))?;
    found.next().map(Some).ok_or_else(|| invalid(&"the name has no address"))
}

fn avatar_store(source: &impl Source) -> Result<AvatarStoreKind, ConfigError> {
    match source.get("AVATAR_STORE").as_deref().map(str::trim) {
        None | Some("fs") => Ok(AvatarStoreKind::Fs),
        Some("s3") => {
            let endpoint = source.get("S3_ENDPOINT").map(|e| e.trim().trim_end_matches('/').to_owned());
            if let Some(url) = &endpoint
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(ConfigError::Invalid {
                    var: "S3_ENDPOINT",
                    reason: "must start with http:// or https://".into(),
                });
            }
            let bucket = required(source, "S3_BUCKET")?;
            let named = bucket.len() <= 255
                && bucket.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            if !named {
                let reason = format!("{bucket:?}: letters, digits, '.', '-' and '_' only");
                return Err(ConfigError::Invalid { var: "S3_BUCKET", reason });
            }
            Ok(AvatarStoreKind::S3(S3Settings {
                bucket,
                region: source.get("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                endpoint,
                access_key_id: required(source, "S3_ACCESS_KEY_ID")?,
                secret_access_key: required(source, "S3_SECRET_ACCESS_KEY")?,
            }))
        }
        Some(other) => {
            Err(ConfigError::Invalid { var: "AVATAR_STORE", reason: format!("{other:?}: must be fs or s3") })
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets (the JWT key, passwords inside URLs, the SMTP password) stay out of logs.
        f.debug_struct("Settings")
            .field("app_base_url", &self.app_base_url)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("redis", &self.redis_url.is_some())
            .field("smtp_host", &self.smtp.as_ref().map(|s| &s.host))
            .field("bcrypt_cost", &self.bcrypt_cost)
            .field("avatar_store", &self.avatar_store)
            .field("metrics_addr", &self.metrics_addr)
            .finish_non_exhaustive()
    }
}

/// Reads variables by name; the seam that lets tests configure without touching the process
/// environment.
pub trait Source {
    /// The variable's value; unset and empty are the same.
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment, after `.env` was loaded into it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Environment;

impl Source for Environment {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, key: &str) -> Option<String> {
        self(key).filter(|v| !v.trim().is_empty())
    }
}

/// Loads `.env` from the working directory, if there is one, without overriding variables
/// that are already set.
///
/// Only the working directory's: `dotenvy::dotenv()` would also walk up to any parent folder's
/// `.env`, so a process started in a subfolder of a checkout (a test, a tool) would quietly
/// take the developer's secrets and database.
pub fn load_dotenv() -> Result<(), ConfigError> {
    load_dotenv_from(Path::new(".env"))
}

/// Loads the dotenv file `path` as [`load_dotenv`] does. No file is fine; any other failure
/// is an error, since dotenv stops at a line it cannot parse and every later variable would
/// silently be left unset. The message names the line and its variable, never its value (it
/// may be a secret).
pub fn load_dotenv_from(path: &Path) -> Result<(), ConfigError> {
    let problem = match dotenvy::from_path(path) {
        Ok(()) => return Ok(()),
        Err(error) if error.not_found() => return Ok(()),
        // The error holds the line or only its value: neither is shown, either may be a secret.
        Err(dotenvy::Error::LineParse(..)) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
            let line = failing_line(text);
            let at = line.map_or_else(String::new, |n| format!("line {n} "));
            match line.and_then(|n| text.lines().nth(n - 1)).and_then(variable_of) {
                Some(var) => format!(
                    "{at}is invalid: the value of {var} cannot be parsed (quote a value with spaces or special characters)"
                ),
                None => format!("{at}is invalid: not NAME=value"),
            }
        }
        Err(error) => format!("cannot be read: {error}"),
    };
    Err(ConfigError::Dotenv { file: path.display().to_string(), problem })
}

/// The 1-based line where the first entry dotenv cannot parse starts: the one after the
/// longest run of whole lines that parses (a quoted value may span lines, so it is counted by
/// dotenv itself). `None` if every line parses.
fn failing_line(text: &str) -> Option<usize> {
    let parses = |end: usize| dotenvy::from_read_iter(&text.as_bytes()[..end]).all(|entry| entry.is_ok());
    if parses(text.len()) {
        return None;
    }
    let ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i + 1).collect();
    Some(ends.iter().rposition(|&end| parses(end)).map_or(1, |good| good + 2))
}

/// The variable a dotenv line sets, if it starts `NAME=` or `export NAME=`.
fn variable_of(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let line = line.strip_prefix("export ").map_or(line, str::trim_start);
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let named = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    (named && rest.trim_start().starts_with('=')).then_some(name)
}

fn required(source: &impl Source, var: &'static str) -> Result<String, ConfigError> {
    source.get(var).ok_or(ConfigError::Missing(var))
}

fn parsed<T: FromStr>(source: &impl Source, var: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match source.get(var) {
        None => Ok(default),
        Some(raw) => {
            raw.trim().parse().map_err(|e: T::Err| ConfigError::Invalid { var, reason: format!("{raw:?}: {e}") })
        }
    }
}

/// A TCP port to connect to, 1 to 65535 (`0` names none).
fn port(source: &impl Source, var: &'static str, default: u16) -> Result<u16, ConfigError> {
    match parsed(source, var, default)? {
        0 => Err(ConfigError::Invalid { var, reason: "must be 1 to 65535".into() }),
        port => Ok(port),
    }
}

/// `raw` read as an `http://` or `https://` URL naming a host, with no user name or password,
/// query or fragment, nor white space: the checks a base URL and an origin share.
fn web_url(raw: &str) -> Result<url::Url, String> {
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{raw:?} holds white space or a control character"));
    }
    let url = url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a URL: {e}"))?;
    // The parser reads `http:///x` as the host `x`; a host must follow the `//` itself.
    let after_slashes = raw.split_once("://").map_or("", |(_, rest)| rest);
    if !matches!(url.scheme(), "http" | "https") {
        Err(format!("{raw:?} must start with http:// or https://"))
    } else if after_slashes.starts_with('/') || url.host_str().is_none_or(str::is_empty) {
        Err(format!("{raw:?} names no host"))
    } else if !url.username().is_empty() || url.password().is_some() {
        Err(format!("{raw:?} must not hold a user name or password"))
    } else if url.query().is_some() || url.fragment().is_some() {
        Err(format!("{raw:?} must not have a query (?) or fragment (#)"))
    } else {
        Ok(url)
    }
}

/// The most a lifetime or pause in seconds means: a century. The contract takes any positive
/// integer; a larger one is read as this, since a clock, a token's expiry or a Redis key cannot
/// reach beyond a few centuries without overflowing.
pub const CENTURY_SECONDS: u64 = 100 * 365 * 86_400 + 25 * 86_400;
/// A century in hours ([`CENTURY_SECONDS`], for `MAIL_RETRY_HOURS`).
pub const CENTURY_HOURS: u64 = CENTURY_SECONDS / 3_600;
/// The most a count, a rate or a size in bytes means (4 GiB, 4 billion failures): beyond what
/// any request or counter reaches, and within every integer type they are compared with.
pub const MOST_COUNT: u64 = u32::MAX as u64;

/// A whole number of at most `ceiling`: any larger one, however many digits, is read as
/// `ceiling` (see [`CENTURY_SECONDS`]).
fn at_most(source: &impl Source, var: &'static str, default: u64, ceiling: u64) -> Result<u64, ConfigError> {
    match source.get(var) {
        None => Ok(default.min(ceiling)),
        Some(raw) => {
            let digits = raw.trim();
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                // All digits: only its size can fail to parse.
                Ok(digits.parse::<u64>().unwrap_or(u64::MAX).min(ceiling))
            } else {
                Err(ConfigError::Invalid { var, reason: format!("{raw:?}: must be a whole number") })
            }
        }
    }
}

/// A positive whole number of at most `ceiling` (larger ones are read as `ceiling`).
fn positive(source: &impl Source, var: &'static str, default: u64, ceiling: u64) -> Result<u64, ConfigError> {
    match at_most(source, var, default, ceiling)? {
        0 => Err(ConfigError::Invalid { var, reason: "must be a positive integer".into() }),
        n => Ok(n),
    }
}

/// The PostgreSQL URL, checked: what `migrate` and `set-role` need, and nothing more.
pub fn database_url(source: &impl Source) -> Result<String, ConfigError> {
    let url = required(source, "DATABASE_URL")?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(ConfigError::Invalid {
            var: "DATABASE_URL",
            reason: "must start with postgres:// or postgresql://".into(),
        });
    }
    contacts_postgres::check_url(&url).map_err(|reason| ConfigError::Invalid { var: "DATABASE_URL", reason })?;
    Ok(url)
}

impl Settings {
    /// Reads `.env` and the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        load_dotenv()?;
        Self::from_source(&Environment)
    }

    /// Reads every variable from `source`, applying the contract's defaults.
    pub fn from_source(source: &impl Source) -> Result<Self, ConfigError> {
        let database_url = database_url(source)?;
        let jwt_secret = required(source, "JWT_SECRET")?;
        if jwt_secret.len() < 32 {
            return Err(ConfigError::Invalid { var: "JWT_SECRET", reason: "must be at least 32 bytes long".into() });
        }
        let app_base_url = source
            .get("APP_BASE_URL")
            .unwrap_or_else(|| "http://localhost:8000".into())
            .trim_end_matches('/')
            .to_owned();
        // Links are this text and a path: anything after the path would break every one.
        web_url(&app_base_url).map_err(|reason| ConfigError::Invalid { var: "APP_BASE_URL", reason })?;
        let redis_url = source.get("REDIS_URL");
        if let Some(url) = &redis_url
            && !(url.starts_with("redis://") || url.starts_with("rediss://"))
        {
            return Err(ConfigError::Invalid {
                var: "REDIS_URL",
                reason: "must start with redis:// or rediss://".into(),
            });
        }
        let bcrypt_cost = parsed(source, "BCRYPT_COST", 12u32)?;
        if !(4..=31).contains(&bcrypt_cost) {
            return Err(ConfigError::Invalid { var: "BCRYPT_COST", reason: "must be between 4 and 31".into() });
        }
        Ok(Self {
            database_url,
            redis_url,
            jwt_secret,
            app_base_url,
            host: source.get("HOST").unwrap_or_else(|| "0.0.0.0".into()),
            // `0` picks a free port (the tests' servers; the log names the one bound).
            port: parsed(source, "PORT", 8000u16)?,
            smtp: smtp(source)?,
            access_token_ttl: positive(source, "ACCESS_TOKEN_TTL_SECONDS", 900, CENTURY_SECONDS)?,
            refresh_token_ttl: positive(source, "REFRESH_TOKEN_TTL_SECONDS", 604_800, CENTURY_SECONDS)?,
            email_token_ttl: positive(source, "EMAIL_TOKEN_TTL_SECONDS", 86_400, CENTURY_SECONDS)?,
            reset_token_ttl: positive(source, "RESET_TOKEN_TTL_SECONDS", 3_600, CENTURY_SECONDS)?,
            user_cache_ttl: positive(source, "USER_CACHE_TTL_SECONDS", 900, CENTURY_SECONDS)?,
            rate_limit_me_per_minute: positive(source, "RATE_LIMIT_ME_PER_MINUTE", 10, MOST_COUNT)?,
            cors_origins: cors_origins(source)?,
            avatar_dir: PathBuf::from(source.get("AVATAR_DIR").unwrap_or_else(|| "./media".into())),
            max_avatar_bytes: positive(source, "MAX_AVATAR_BYTES", 5 * 1024 * 1024, MOST_COUNT)?,
            max_import_bytes: positive(source, "MAX_IMPORT_BYTES", 10 * 1024 * 1024, MOST_COUNT)?,
            bcrypt_cost,
            avatar_store: avatar_store(source)?,
            metrics_addr: metrics_addr(source)?,
            log_format: log_format(source)?,
            request_body_timeout: contacts_http::BODY_TIMEOUT,
            mail_cooldown_seconds: at_most(source, "MAIL_COOLDOWN_SECONDS", 60, CENTURY_SECONDS)?,
            mail_daily_limit: positive(source, "MAIL_DAILY_LIMIT", 10, MOST_COUNT)?,
            mail_retry_hours: positive(source, "MAIL_RETRY_HOURS", 24, CENTURY_HOURS)?,
            login_max_failures: positive(source, "LOGIN_MAX_FAILURES", 5, MOST_COUNT)?,
            login_max_failures_per_ip: positive(source, "LOGIN_MAX_FAILURES_PER_IP", 100, MOST_COUNT)?,
            login_lockout_seconds: positive(source, "LOGIN_LOCKOUT_SECONDS", 900, CENTURY_SECONDS)?,
            trusted_proxies: trusted_proxies(source)?,
            reminder_scan_seconds: at_most(source, "REMINDER_SCAN_SECONDS", 60, CENTURY_SECONDS)?,
            list_cache_bytes: at_most(source, "LIST_CACHE_BYTES", 4 * 1024 * 1024, MOST_COUNT)?,
        })
    }
}

/// `TRUSTED_PROXIES`: comma-separated addresses and CIDR ranges; unset or empty trusts nobody.
fn trusted_proxies(source: &impl Source) -> Result<TrustedProxies, ConfigError> {
    let Some(raw) = source.get("TRUSTED_PROXIES") else { return Ok(TrustedProxies::default()) };
    raw.parse().map_err(|e: contacts_http::InvalidProxy| ConfigError::Invalid {
        var: "TRUSTED_PROXIES",
        reason: e.to_string(),
    })
}

/// `CORS_ORIGINS`: comma-separated origins, each `http://` or `https://` and a host (an
/// optional port), nothing after it; unset or empty allows none.
fn cors_origins(source: &impl Source) -> Result<Vec<String>, ConfigError> {
    let Some(raw) = source.get("CORS_ORIGINS") else { return Ok(Vec::new()) };
    let origins: Vec<String> = raw.split(',').map(|o| o.trim().to_owned()).filter(|o| !o.is_empty()).collect();
    for origin in &origins {
        // An origin is a URL with nothing after its host and port (not even a `/`).
        let valid = web_url(origin).is_ok_and(|url| url.path() == "/" && !origin.ends_with('/'));
        if !valid {
            let reason = format!("{origin:?} is not an origin (such as https://app.example.org)");
            return Err(ConfigError::Invalid { var: "CORS_ORIGINS", reason });
        }
    }
    Ok(origins)
}

/// The SMTP settings; `None` without `SMTP_HOST`. The other variables are checked either way:
/// a mistake in them is a mistake now, not on the day `SMTP_HOST` is set.
fn smtp(source: &impl Source) -> Result<Option<SmtpSettings>, ConfigError> {
    let tls: SmtpTls = match source.get("SMTP_TLS") {
        None => SmtpTls::StartTls,
        Some(raw) => raw.parse().map_err(|reason| ConfigError::Invalid { var: "SMTP_TLS", reason })?,
    };
    let port = port(source, "SMTP_PORT", 587)?;
    let Some(host) = source.get("SMTP_HOST") else { return Ok(None) };
    if let Err(error) = url::Host::parse(&host) {
        return Err(ConfigError::Invalid { var: "SMTP_HOST", reason: format!("{host:?} is not a host name: {error}") });
    }
    let from = source.get("MAIL_FROM").unwrap_or_else(|| "noreply@localhost".into());
    Ok(Some(SmtpSettings {
        host,
        port,
        username: source.get("SMTP_USERNAME"),
        password: source.get("SMTP_PASSWORD"),
        tls,
        from,
    }))
}

#[cfg(test)]
mod tests;
