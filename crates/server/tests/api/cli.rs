//! The `contacts-api` binary's commands, run as a user would run them.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::StatusCode;

use crate::helpers::*;

/// Runs the binary with only `vars` (and `PATH`) in its environment, in an empty folder of its
/// own, so neither the developer's environment nor a `.env` of the checkout can reach it.
pub fn run(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let folder = ScratchDir::create();
    run_in(folder.path(), args, vars)
}

/// [`run`] off the test's runtime, which goes on meanwhile: a server the test runs in process
/// (its background tasks, such as the listener for changes to users, on that runtime) keeps
/// working while the command does, as a server of its own would.
pub async fn run_beside(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run(&args, &vars)
    })
    .await
    .expect("the command ran")
}

/// [`run`] in the folder `cwd`.
pub fn run_in(cwd: &Path, args: &[&str], vars: &[(&str, &str)]) -> Output {
    binary().current_dir(cwd).args(args).envs(vars.iter().copied()).output().expect("the binary runs")
}

/// The server binary with a clean environment: `PATH`, and where coverage runs write their
/// profiles.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_contacts-api"));
    command.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    if let Ok(profile) = std::env::var("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    command
}

#[tokio::test]
async fn a_dotenv_in_the_working_directory_is_read_and_one_in_a_parent_folder_is_not() {
    let db = contacts_test_support::TestDatabase::create().await;
    let parent = ScratchDir::create();
    let child = parent.path().join("subfolder");
    std::fs::create_dir(&child).unwrap();
    let dotenv = format!("DATABASE_URL={}\nJWT_SECRET={JWT_SECRET}\n", db.url());

    // As when a test runs in crates/server below a checkout whose `just run` wrote `.env`.
    std::fs::write(parent.path().join(".env"), &dotenv).unwrap();
    let ignored = run_in(&child, &["migrate"], &[]);
    assert!(!ignored.status.success(), "the parent's .env was read: {}", String::from_utf8_lossy(&ignored.stdout));
    assert!(String::from_utf8_lossy(&ignored.stderr).contains("DATABASE_URL"));

    std::fs::write(child.join(".env"), &dotenv).unwrap();
    let read = run_in(&child, &["migrate"], &[]);
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    assert!(String::from_utf8_lossy(&read.stdout).contains(&format!("applied {} migration", migration_count())));

    // Real environment variables win over the file.
    let overridden = run_in(&child, &["migrate"], &[("DATABASE_URL", "mysql://elsewhere")]);
    assert!(!overridden.status.success());
    assert!(String::from_utf8_lossy(&overridden.stderr).contains("DATABASE_URL"));
}

#[test]
fn a_dotenv_line_that_does_not_parse_stops_the_process_naming_it() {
    let folder = ScratchDir::create();
    // Unquoted, dotenv stops at the space: every later line (the secret) would be dropped.
    let dotenv = format!("# mail\nMAIL_FROM=Contacts <noreply@example.org>\nJWT_SECRET={JWT_SECRET}\n");
    std::fs::write(folder.path().join(".env"), dotenv).unwrap();
    for args in [&["serve"][..], &["migrate"]] {
        let output = run_in(folder.path(), args, &[("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")]);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("error: .env line 2 is invalid: the value of MAIL_FROM"), "{stderr}");
    }
}

#[tokio::test]
async fn set_role_grants_admin_and_refuses_unknown_emails_and_roles() {
    // No REDIS_URL, as `just run` starts it: the server keeps users in its own memory.
    let app = spawn_app_with(&[("RATE_LIMIT_ME_PER_MINUTE", "1000")]).await;
    let ada = app.user("ada").await;
    let db = [("DATABASE_URL", app.db.url())];
    let role =
        || async { expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await["role"].clone() };
    assert_eq!(role().await, "user", "read once, so the server now holds a copy");

    let granted = run_beside(&["set-role", "ADA@example.org", "admin"], &db).await;
    assert!(granted.status.success(), "{}", String::from_utf8_lossy(&granted.stderr));
    // PostgreSQL tells the server at commit, and the command waits for it to have handled that
    // before it returns: the very next request sees the change (a stale copy would last
    // USER_CACHE_TTL_SECONDS).
    assert_eq!(role().await, "admin", "the running server dropped its copy of the user");

    let unknown = run(&["set-role", "nobody@example.org", "user"], &db);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("error: no user with email \"nobody@example.org\""));

    // A malformed address is named as such, not reported as an unknown user.
    let malformed = run(&["set-role", "not-an-address", "user"], &db);
    assert!(!malformed.status.success());
    let stderr = String::from_utf8_lossy(&malformed.stderr);
    assert!(stderr.contains("\"not-an-address\" is not a valid email address"), "{stderr}");

    let bad_role = run(&["set-role", "ada@example.org", "root"], &db);
    assert!(!bad_role.status.success());
    let me = expect(app.get("/api/users/me", Some(&ada.token)).await, StatusCode::OK).await;
    assert_eq!(me["role"], "admin", "a refused command changes nothing");
}

/// How many migrations the repository has: what a first `migrate` must apply.
fn migration_count() -> usize {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations");
    std::fs::read_dir(dir).expect("the migrations folder").filter(|e| e.as_ref().unwrap().path().is_dir()).count()
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let db = contacts_test_support::TestDatabase::create().await;
    let first = run(&["migrate"], &[("DATABASE_URL", db.url())]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert!(String::from_utf8_lossy(&first.stdout).contains(&format!("applied {} migration", migration_count())));
    let second = run(&["migrate"], &[("DATABASE_URL", db.url())]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("applied 0 migration"));
}

#[tokio::test]
async fn migrate_creates_a_missing_database() {
    let db = contacts_test_support::TestDatabase::create().await;
    db.destroy().await;
    let output = run(&["migrate"], &[("DATABASE_URL", db.url())]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("applied {} migration", migration_count())));
}

#[test]
fn configuration_mistakes_stop_the_server_with_one_line_naming_the_variable() {
    let url = "postgres://postgres@127.0.0.1:5432/postgres";
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("DATABASE_URL", url)], "JWT_SECRET"),
        (&[("DATABASE_URL", url), ("JWT_SECRET", "short")], "JWT_SECRET"),
        (&[("JWT_SECRET", JWT_SECRET)], "DATABASE_URL"),
        (&[("DATABASE_URL", url), ("JWT_SECRET", JWT_SECRET), ("BCRYPT_COST", "99")], "BCRYPT_COST"),
        (
            &[("DATABASE_URL", url), ("JWT_SECRET", JWT_SECRET), ("TRUSTED_PROXIES", "10.0.0.0/8,10.0.0.0/33")],
            "TRUSTED_PROXIES is invalid: \"10.0.0.0/33\"",
        ),
    ];
    for (vars, named) in cases {
        let output = run(&["serve"], vars);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        let line = stderr.lines().find(|l| l.starts_with("error:")).expect("an error line");
        assert!(line.contains(named), "{line:?} should name {named}");
    }
    let usage = run(&["launch"], &[]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(run(&["--help"], &[]).status.success());
}

#[tokio::test]
async fn the_access_log_holds_no_token() {
    let app = spawn_app().await;
    app.register("ada", "ada@example.org", PASSWORD).await;
    let path = app.confirmation_path("ada@example.org").await;
    let token = path.rsplit('/').next().unwrap().to_owned();
    let server = app.serve_binary(&[("BCRYPT_COST", "4")]).await;
    app.client.get(format!("{}{path}", server.base)).send().await.unwrap();
    app.client.get(format!("{}/reset-password?token={token}", server.base)).send().await.unwrap();
    let output = server.stop_and_read_output().await;
    assert!(output.contains("/api/auth/confirmed_email/…"), "the request is logged: {output}");
    assert!(output.contains("GET /reset-password 200"), "{output}");
    assert!(!output.contains(&token), "a token reached the log:\n{output}");
}

#[tokio::test]
async fn an_unusable_avatar_dir_stops_the_server_naming_it() {
    let db = contacts_test_support::TestDatabase::create().await;
    let output = run(
        &["serve"],
        &[
            ("DATABASE_URL", db.url()),
            ("JWT_SECRET", JWT_SECRET),
            ("PORT", "0"),
            ("AVATAR_DIR", "/proc/no-avatars-here"),
        ],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.lines().any(|l| l.starts_with("error: AVATAR_DIR")), "{stderr}");
}
