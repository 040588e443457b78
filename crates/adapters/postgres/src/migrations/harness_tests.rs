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

/// The vCard migration gives existing users their default address book and existing contacts a
/// UID, a card built from their columns and REST's email rule; new users get their book with
/// the account.
#[tokio::test]
async fn the_vcard_migration_converts_existing_contacts() {
    let test_db = TestDatabase::create().await;
    run_migrations(test_db.url()).await.unwrap();
    let url = test_db.url().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url).unwrap();
        // Later migrations are reverted first, down to (and including) the vCard one.
        loop {
            let last = conn.revert_last_migration(MIGRATIONS).unwrap().to_string();
            if last.ends_with("000011") {
                break;
            }
            let digits: String = last.chars().filter(char::is_ascii_digit).collect();
            assert!(digits.as_str() > "20261130000011", "the vCard migration was passed: {last}");
        }
    })
    .await
    .unwrap();
    test_db.execute("INSERT INTO users (username, email, password_hash) VALUES ('ada', 'ada@example.org', 'h')").await;
    test_db
        .execute(
            "INSERT INTO contacts (user_id, first_name, last_name, email, phone, birthday, additional_info) \
             SELECT id, 'Gr,ace', 'Hop;per', 'grace@navy.mil', '+1 555 010 2030', '1906-12-09', E'a\\nb' FROM users",
        )
        .await;
    run_migrations(test_db.url()).await.unwrap();
    test_db.execute("INSERT INTO users (username, email, password_hash) VALUES ('bob', 'bob@example.org', 'h')").await;
    test_db
        .execute(
            "DO $$ BEGIN \
               IF (SELECT count(*) FROM address_books WHERE name = 'contacts') <> 2 THEN \
                 RAISE EXCEPTION 'every user has a default book'; END IF; \
               IF NOT EXISTS (SELECT 1 FROM contacts c JOIN address_books b ON b.id = c.book_id \
                   WHERE b.user_id = c.user_id AND length(c.uid) = 36 AND c.href = c.uid || '.vcf' \
                   AND c.rest_email = 'grace@navy.mil' AND NOT c.card_dirty AND c.birthday_md = 1209 \
                   AND c.emails::jsonb = '[{\"value\": \"grace@navy.mil\", \"type\": null}]'::jsonb \
                   AND c.card LIKE E'BEGIN:VCARD\\r\\nVERSION:4.0\\r\\nUID:' || c.uid || E'\\r\\n%' ESCAPE '' \
                   AND c.card LIKE E'%\\r\\nFN:Gr\\\\,ace Hop\\\\;per\\r\\nN:Hop\\\\;per;Gr\\\\,ace;;;\\r\\n%' ESCAPE '' \
                   AND c.card LIKE E'%\\r\\nBDAY:19061209\\r\\nNOTE:a\\\\nb\\r\\n%END:VCARD\\r\\n' ESCAPE '') THEN \
                 RAISE EXCEPTION 'the contact was not converted'; END IF; \
             END $$",
        )
        .await;
}
