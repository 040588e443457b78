use diesel::migration::MigrationSource;
use diesel::pg::Pg;

use contacts_test_support::TestDatabase;

use super::*;

/// How many migrations the binary embeds.
fn embedded() -> usize {
    MigrationSource::<Pg>::migrations(&MIGRATIONS).expect("embedded migrations").len()
}

#[test]
fn both_tables_have_a_migration() {
    assert!(embedded() >= 2, "{} migrations embedded", embedded());
}

#[tokio::test]
async fn a_second_run_applies_nothing() {
    let test_db = TestDatabase::create().await;

    assert_eq!(run_migrations(test_db.url()).await.unwrap(), embedded());
    assert_eq!(run_migrations(test_db.url()).await.unwrap(), 0);
}

#[tokio::test]
async fn concurrent_runs_apply_each_migration_once() {
    let test_db = TestDatabase::create().await;

    let (first, second) = tokio::join!(run_migrations(test_db.url()), run_migrations(test_db.url()));

    let mut applied = [first.unwrap(), second.unwrap()];
    applied.sort();
    assert_eq!(applied, [0, embedded()]);
}

#[tokio::test]
async fn every_migration_reverts_cleanly_and_applies_again() {
    let test_db = TestDatabase::create().await;
    run_migrations(test_db.url()).await.unwrap();
    let url = test_db.url().to_owned();

    let reverted = tokio::task::spawn_blocking(move || {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url).unwrap();
        conn.revert_all_migrations(MIGRATIONS).map(|versions| versions.len()).map_err(|e| e.to_string())
    })
    .await
    .unwrap();

    assert_eq!(reverted, Ok(embedded()));
    // The up scripts would fail on tables the down scripts left behind.
    assert_eq!(run_migrations(test_db.url()).await.unwrap(), embedded());
}

#[tokio::test]
async fn an_unreachable_database_is_a_migration_error() {
    let error = run_migrations("postgres://postgres@127.0.0.1:1/nope").await.unwrap_err();

    assert_eq!(error.to_string(), "could not migrate the database");
    let cause = std::error::Error::source(&error).expect("the cause is kept");
    assert!(!cause.to_string().is_empty(), "{cause:?}");
}
