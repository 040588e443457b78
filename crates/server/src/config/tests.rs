use std::collections::HashMap;

use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef";

fn source(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let mut map: HashMap<String, String> = [("DATABASE_URL", "postgres://localhost/contacts"), ("JWT_SECRET", SECRET)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    for (k, v) in pairs {
        map.insert((*k).to_owned(), (*v).to_owned());
    }
    move |key| map.get(key).cloned()
}

#[test]
fn defaults_follow_the_contract() {
    let s = Settings::from_source(&source(&[])).unwrap();
    assert_eq!(s.app_base_url, "http://localhost:8000");
    assert_eq!((s.host.as_str(), s.port), ("0.0.0.0", 8000));
    assert!(s.smtp.is_none() && s.redis_url.is_none());
    assert_eq!(
        (s.access_token_ttl, s.refresh_token_ttl, s.email_token_ttl, s.reset_token_ttl),
        (900, 604_800, 86_400, 3_600)
    );
    assert_eq!((s.user_cache_ttl, s.rate_limit_me_per_minute), (900, 10));
    assert!(s.cors_origins.is_empty());
    assert_eq!(s.avatar_dir, PathBuf::from("./media"));
    assert_eq!((s.max_avatar_bytes, s.bcrypt_cost), (5_242_880, 12));
}

#[test]
fn every_variable_is_read() {
    let s = Settings::from_source(&source(&[
        ("APP_BASE_URL", "https://contacts.example.org/"),
        ("HOST", "127.0.0.1"),
        ("PORT", "9000"),
        ("REDIS_URL", "redis://127.0.0.1:6379"),
        ("SMTP_HOST", "smtp.example.org"),
        ("SMTP_PORT", "465"),
        ("SMTP_USERNAME", "mailer"),
        ("SMTP_PASSWORD", "pw"),
        ("SMTP_TLS", "tls"),
        ("MAIL_FROM", "Contacts <no-reply@example.org>"),
        ("ACCESS_TOKEN_TTL_SECONDS", "2"),
        ("REFRESH_TOKEN_TTL_SECONDS", "3"),
        ("EMAIL_TOKEN_TTL_SECONDS", "4"),
        ("RESET_TOKEN_TTL_SECONDS", "5"),
        ("USER_CACHE_TTL_SECONDS", "6"),
        ("RATE_LIMIT_ME_PER_MINUTE", "7"),
        ("CORS_ORIGINS", "https://a.example, https://b.example,"),
        ("AVATAR_DIR", "/srv/avatars"),
        ("MAX_AVATAR_BYTES", "1024"),
        ("BCRYPT_COST", "4"),
    ]))
    .unwrap();
    assert_eq!(s.app_base_url, "https://contacts.example.org", "trailing slash dropped");
    assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 9000));
    assert_eq!(s.redis_url.as_deref(), Some("redis://127.0.0.1:6379"));
    let smtp = s.smtp.unwrap();
    assert_eq!((smtp.host.as_str(), smtp.port, smtp.tls), ("smtp.example.org", 465, SmtpTls::Tls));
    assert_eq!((smtp.username.as_deref(), smtp.password.as_deref()), (Some("mailer"), Some("pw")));
    assert_eq!(smtp.from, "Contacts <no-reply@example.org>");
    assert_eq!(
        (s.access_token_ttl, s.refresh_token_ttl, s.email_token_ttl, s.reset_token_ttl, s.user_cache_ttl),
        (2, 3, 4, 5, 6)
    );
    assert_eq!(s.rate_limit_me_per_minute, 7);
    assert_eq!(s.cors_origins, vec!["https://a.example", "https://b.example"]);
    assert_eq!(s.avatar_dir, PathBuf::from("/srv/avatars"));
    assert_eq!((s.max_avatar_bytes, s.bcrypt_cost), (1024, 4));
}

#[test]
fn smtp_defaults_to_starttls_on_587() {
    let smtp = Settings::from_source(&source(&[("SMTP_HOST", "mail")])).unwrap().smtp.unwrap();
    assert_eq!((smtp.port, smtp.tls, smtp.from.as_str()), (587, SmtpTls::StartTls, "noreply@localhost"));
}

fn error_names(pairs: &[(&str, &str)], var: &str) {
    let message = Settings::from_source(&source(pairs)).unwrap_err().to_string();
    assert!(message.starts_with(var), "{message:?} should name {var}");
    assert!(!message.contains('\n'), "one line");
}

#[test]
fn missing_required_variables_are_named() {
    error_names(&[("DATABASE_URL", "")], "DATABASE_URL");
    error_names(&[("JWT_SECRET", "")], "JWT_SECRET");
}

#[test]
fn bad_values_are_named() {
    error_names(&[("JWT_SECRET", "too short")], "JWT_SECRET");
    error_names(&[("DATABASE_URL", "mysql://x")], "DATABASE_URL");
    error_names(&[("DATABASE_URL", "postgres://")], "DATABASE_URL");
    error_names(&[("DATABASE_URL", "postgresql:///contacts")], "DATABASE_URL");
    error_names(&[("DATABASE_URL", "postgres://ada:secret@localhost:five/contacts")], "DATABASE_URL");
    error_names(&[("DATABASE_URL", "postgres://localhost/contacts?sslmode=sometimes")], "DATABASE_URL");
    let message = Settings::from_source(&source(&[("DATABASE_URL", "postgres://ada:secret@localhost:five/c")]))
        .unwrap_err()
        .to_string();
    assert!(!message.contains("secret"), "the URL's password is never repeated: {message}");
    error_names(&[("REDIS_URL", "http://x")], "REDIS_URL");
    error_names(&[("APP_BASE_URL", "contacts.example.org")], "APP_BASE_URL");
    // Each of these made every link of every mail broken.
    for broken in [
        "http://example.com?x=1",
        "http://example.com#frag",
        "http://exa mple.com",
        "http://example.com/ /x",
        "http:///path",
        "http://user:pw@example.com",
        "ftp://example.com",
    ] {
        error_names(&[("APP_BASE_URL", broken)], "APP_BASE_URL");
    }
    error_names(&[("SMTP_PORT", "0")], "SMTP_PORT");
    error_names(&[("SMTP_HOST", "bad host!")], "SMTP_HOST");
    error_names(&[("CORS_ORIGINS", "https://a.example:99999")], "CORS_ORIGINS");
    error_names(&[("CORS_ORIGINS", "https://a.example/")], "CORS_ORIGINS");
    let s3 = [("AVATAR_STORE", "s3"), ("S3_ACCESS_KEY_ID", "k"), ("S3_SECRET_ACCESS_KEY", "s")];
    error_names(&[&s3[..], &[("S3_BUCKET", "Bad_Bucket!!")]].concat(), "S3_BUCKET");
    error_names(&[("PORT", "eighty")], "PORT");
    error_names(&[("PORT", "70000")], "PORT");
    error_names(&[("SMTP_HOST", "mail"), ("SMTP_TLS", "ssl")], "SMTP_TLS");
    error_names(&[("SMTP_HOST", "mail"), ("SMTP_PORT", "-1")], "SMTP_PORT");
    // Checked without SMTP_HOST too: the mistake shows now, not when mail is turned on.
    error_names(&[("SMTP_TLS", "foo")], "SMTP_TLS");
    error_names(&[("SMTP_PORT", "x")], "SMTP_PORT");
    error_names(&[("CORS_ORIGINS", "notaurl")], "CORS_ORIGINS");
    error_names(&[("CORS_ORIGINS", "https://a.example, ftp://b.example")], "CORS_ORIGINS");
    error_names(&[("CORS_ORIGINS", "https://a.example/path")], "CORS_ORIGINS");
    error_names(&[("ACCESS_TOKEN_TTL_SECONDS", "0")], "ACCESS_TOKEN_TTL_SECONDS");
    error_names(&[("RATE_LIMIT_ME_PER_MINUTE", "ten")], "RATE_LIMIT_ME_PER_MINUTE");
    error_names(&[("MAX_AVATAR_BYTES", "-5")], "MAX_AVATAR_BYTES");
    error_names(&[("BCRYPT_COST", "3")], "BCRYPT_COST");
    error_names(&[("BCRYPT_COST", "32")], "BCRYPT_COST");
}

#[test]
fn base_urls_with_a_path_and_origins_with_a_port_are_taken() {
    let s = Settings::from_source(&source(&[
        ("APP_BASE_URL", "HTTPS://Contacts.example.org/book/"),
        ("CORS_ORIGINS", "http://[::1]:8080, https://app.example:8443, http://localhost"),
    ]))
    .unwrap();
    assert_eq!(s.app_base_url, "HTTPS://Contacts.example.org/book", "as written, the last slash dropped");
    assert_eq!(s.cors_origins, ["http://[::1]:8080", "https://app.example:8443", "http://localhost"]);
}

#[test]
fn the_secret_stays_out_of_debug_output() {
    let s = Settings::from_source(&source(&[])).unwrap();
    assert!(!format!("{s:?}").contains(SECRET));
}

#[test]
fn observability_and_storage_default_to_text_logs_no_metrics_and_files() {
    let s = Settings::from_source(&source(&[])).unwrap();
    assert_eq!((s.log_format, s.metrics_addr, s.avatar_store), (LogFormat::Text, None, AvatarStoreKind::Fs));
}

#[test]
fn s3_metrics_and_json_logs_are_read() {
    let s = Settings::from_source(&source(&[
        ("LOG_FORMAT", "json"),
        ("METRICS_ADDR", "0.0.0.0:9100"),
        ("AVATAR_STORE", "s3"),
        ("S3_BUCKET", "avatars"),
        ("S3_ENDPOINT", "http://127.0.0.1:9000/"),
        ("S3_ACCESS_KEY_ID", "key"),
        ("S3_SECRET_ACCESS_KEY", "shhh-very-secret"),
    ]))
    .unwrap();
    assert_eq!(s.log_format, LogFormat::Json);
    assert_eq!(s.metrics_addr, Some("0.0.0.0:9100".parse().unwrap()));
    let by_name = Settings::from_source(&source(&[("METRICS_ADDR", "localhost:9100")])).unwrap().metrics_addr;
    let by_name = by_name.expect("a host name is resolved");
    assert!(by_name.ip().is_loopback() && by_name.port() == 9100, "{by_name}");
    let AvatarStoreKind::S3(s3) = &s.avatar_store else { panic!("s3 expected") };
    assert_eq!((s3.bucket.as_str(), s3.region.as_str()), ("avatars", "us-east-1"));
    assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
    assert!(!format!("{s:?}").contains("shhh-very-secret"), "the S3 secret stays out of logs");
}

#[test]
fn observability_and_storage_mistakes_are_named() {
    error_names(&[("LOG_FORMAT", "yaml")], "LOG_FORMAT");
    error_names(&[("METRICS_ADDR", "9100")], "METRICS_ADDR");
    error_names(&[("METRICS_ADDR", "localhost")], "METRICS_ADDR");
    error_names(&[("METRICS_ADDR", "no-such-host.invalid:9100")], "METRICS_ADDR");
    error_names(&[("AVATAR_STORE", "nfs")], "AVATAR_STORE");
    let s3 = [("AVATAR_STORE", "s3"), ("S3_BUCKET", "b"), ("S3_ACCESS_KEY_ID", "k"), ("S3_SECRET_ACCESS_KEY", "s")];
    for missing in ["S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] {
        let mut pairs = s3.to_vec();
        pairs.retain(|(k, _)| *k != missing);
        error_names(&pairs, missing);
    }
    error_names(&[&s3[..], &[("S3_ENDPOINT", "minio:9000")]].concat(), "S3_ENDPOINT");
}

#[test]
fn hardening_defaults_follow_the_contract() {
    let s = Settings::from_source(&source(&[])).unwrap();
    assert_eq!((s.mail_cooldown_seconds, s.mail_daily_limit, s.mail_retry_hours), (60, 10, 24));
    assert_eq!((s.login_max_failures, s.login_max_failures_per_ip, s.login_lockout_seconds), (5, 100, 900));
    assert_eq!(s.trusted_proxies, TrustedProxies::default());
    assert!(!s.trusted_proxies.trusts("127.0.0.1".parse().unwrap()));
}

#[test]
fn hardening_variables_are_read() {
    let s = Settings::from_source(&source(&[
        ("MAIL_COOLDOWN_SECONDS", "0"),
        ("MAIL_DAILY_LIMIT", "3"),
        ("MAIL_RETRY_HOURS", "2"),
        ("LOGIN_MAX_FAILURES", "4"),
        ("LOGIN_MAX_FAILURES_PER_IP", "50"),
        ("LOGIN_LOCKOUT_SECONDS", "60"),
        ("TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8, 127.0.0.1,"),
    ]))
    .unwrap();
    assert_eq!((s.mail_cooldown_seconds, s.mail_daily_limit, s.mail_retry_hours), (0, 3, 2));
    assert_eq!((s.login_max_failures, s.login_max_failures_per_ip, s.login_lockout_seconds), (4, 50, 60));
    for trusted in ["10.1.2.3", "fd00::7", "127.0.0.1"] {
        assert!(s.trusted_proxies.trusts(trusted.parse().unwrap()), "{trusted}");
    }
    for untrusted in ["11.0.0.1", "::1", "127.0.0.2"] {
        assert!(!s.trusted_proxies.trusts(untrusted.parse().unwrap()), "{untrusted}");
    }
}

#[test]
fn bad_hardening_values_are_named() {
    for (var, value) in [
        ("MAIL_COOLDOWN_SECONDS", "-1"),
        ("MAIL_COOLDOWN_SECONDS", "soon"),
        ("MAIL_DAILY_LIMIT", "0"),
        ("MAIL_RETRY_HOURS", "0"),
        ("LOGIN_MAX_FAILURES", "0"),
        ("LOGIN_MAX_FAILURES_PER_IP", "x"),
        ("LOGIN_LOCKOUT_SECONDS", "0"),
        ("TRUSTED_PROXIES", "10.0.0.0/33"),
        ("TRUSTED_PROXIES", "127.0.0.1, proxy.internal"),
    ] {
        error_names(&[(var, value)], var);
    }
}

#[test]
fn a_malformed_trusted_proxy_is_quoted_in_the_message() {
    let message =
        Settings::from_source(&source(&[("TRUSTED_PROXIES", "10.0.0.0/8, 10.0.0.0/33")])).unwrap_err().to_string();
    assert!(message.starts_with("TRUSTED_PROXIES is invalid: \"10.0.0.0/33\""), "{message}");
}

#[test]
fn lists_keep_four_mib_unless_told_and_zero_keeps_none() {
    assert_eq!(Settings::from_source(&source(&[])).unwrap().list_cache_bytes, 4 * 1024 * 1024);
    for (raw, bytes) in [("0", 0), ("65536", 65_536)] {
        assert_eq!(Settings::from_source(&source(&[("LIST_CACHE_BYTES", raw)])).unwrap().list_cache_bytes, bytes);
    }
    error_names(&[("LIST_CACHE_BYTES", "-1")], "LIST_CACHE_BYTES");
    error_names(&[("LIST_CACHE_BYTES", "2 MiB")], "LIST_CACHE_BYTES");
}

#[test]
fn any_positive_integer_is_taken_and_one_past_what_clocks_and_counters_hold_is_read_as_the_ceiling() {
    let huge = "3000000000000000000000000000";
    let s = Settings::from_source(&source(&[
        ("ACCESS_TOKEN_TTL_SECONDS", "10000000000000"),
        ("REFRESH_TOKEN_TTL_SECONDS", huge),
        ("LOGIN_LOCKOUT_SECONDS", "18446744073709551615"),
        ("MAIL_RETRY_HOURS", "3000000000000000"),
        ("MAIL_COOLDOWN_SECONDS", huge),
        ("REMINDER_SCAN_SECONDS", huge),
        ("LOGIN_MAX_FAILURES", huge),
        ("MAX_IMPORT_BYTES", huge),
        ("USER_CACHE_TTL_SECONDS", "3155760000"),
    ]))
    .unwrap();
    assert_eq!(
        (s.access_token_ttl, s.refresh_token_ttl, s.login_lockout_seconds),
        (CENTURY_SECONDS, CENTURY_SECONDS, CENTURY_SECONDS)
    );
    assert_eq!((s.mail_cooldown_seconds, s.reminder_scan_seconds), (CENTURY_SECONDS, CENTURY_SECONDS));
    assert_eq!(s.mail_retry_hours, CENTURY_HOURS);
    assert_eq!((s.login_max_failures, s.max_import_bytes), (MOST_COUNT, MOST_COUNT));
    assert_eq!(s.user_cache_ttl, 3_155_760_000, "a century itself is kept as it is");
    // A century from now is still a time every clock and Redis can hold.
    let later = chrono::Utc::now() + chrono::TimeDelta::seconds(CENTURY_SECONDS as i64);
    assert!(later.timestamp() < i64::from(u32::MAX) * 2);
    assert!(chrono::Utc::now().checked_add_signed(chrono::TimeDelta::hours(CENTURY_HOURS as i64)).is_some());
    assert!(std::time::Instant::now().checked_add(std::time::Duration::from_secs(CENTURY_SECONDS)).is_some());
    error_names(&[("ACCESS_TOKEN_TTL_SECONDS", "1e16")], "ACCESS_TOKEN_TTL_SECONDS");
    error_names(&[("MAIL_RETRY_HOURS", "+5")], "MAIL_RETRY_HOURS");
    error_names(&[("MAIL_COOLDOWN_SECONDS", "-1")], "MAIL_COOLDOWN_SECONDS");
}

/// A fresh folder holding `.env` with `content`; removed on drop.
struct DotenvDir(PathBuf);

impl DotenvDir {
    fn with(content: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("contacts-dotenv-{}", contacts_test_support::random_hex(8)));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".env"), content).unwrap();
        Self(dir)
    }

    fn load(&self) -> Result<(), ConfigError> {
        load_dotenv_from(&self.0.join(".env"))
    }
}

impl Drop for DotenvDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// Every file below fails at or before its first assignment, so no test sets a variable.

#[test]
fn no_dotenv_file_is_fine() {
    let dir = DotenvDir::with("");
    assert_eq!(dir.load(), Ok(()), "an empty file");
    std::fs::remove_file(dir.0.join(".env")).unwrap();
    assert_eq!(dir.load(), Ok(()), "no file");
}

#[test]
fn a_dotenv_line_that_does_not_parse_stops_start_up_naming_its_line_and_variable() {
    // dotenv stops at the unquoted space: JWT_SECRET and every later line would be dropped.
    let dir = DotenvDir::with(&format!("# Mail\n\nMAIL_FROM=Contacts <noreply@x.org>\nJWT_SECRET={SECRET}\n"));
    let error = dir.load().unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "{} line 3 is invalid: the value of MAIL_FROM cannot be parsed (quote a value with spaces or special \
             characters)",
            dir.0.join(".env").display()
        )
    );
    assert!(!error.contains("noreply"), "values may be secrets: {error}");
    for (content, problem) in [
        ("\nexport SMTP_PASSWORD=\"no closing quote\n# more\n", "line 2 is invalid: the value of SMTP_PASSWORD"),
        ("MY-VAR=1\n", "line 1 is invalid: not NAME=value"),
        ("# a comment\nJWT_SECRET\n", "line 2 is invalid: not NAME=value"),
    ] {
        let error = DotenvDir::with(content).load().unwrap_err().to_string();
        assert!(error.contains(&format!(".env {problem}")), "{content:?}: {error}");
    }
}

#[test]
fn a_dotenv_that_cannot_be_read_stops_start_up() {
    let dir = DotenvDir::with("");
    std::fs::remove_file(dir.0.join(".env")).unwrap();
    std::fs::create_dir(dir.0.join(".env")).unwrap();
    let error = dir.load().unwrap_err().to_string();
    assert!(error.starts_with(&format!("{} cannot be read: ", dir.0.join(".env").display())), "{error}");
}

#[test]
fn the_failing_line_is_counted_over_every_line_of_the_file() {
    // A quoted value over two lines, then the line that fails.
    assert_eq!(failing_line("A=\"two\nlines\"\r\n# note\nB=x y\nC=1\n"), Some(4));
    // A quote left open fails where it opens, not at the end of the file.
    assert_eq!(failing_line("A=1\nB=\"open\nmore\n"), Some(2));
    assert_eq!(failing_line("B=x y"), Some(1));
    assert_eq!(failing_line("A=1 # note\nB=\"two\nlines\""), None);
}
