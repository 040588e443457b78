use chrono::Duration;
use diesel::result::DatabaseErrorKind;

use super::*;
use crate::test_fixtures::{
    PASSWORD_HASH, assert_violates, avatar_of, email, execute_sql, expect_conflict, migrated_db, new_user,
};
use contacts_domain::Conflict;

/// The `updated_at` column, which the domain's `User` does not carry.
async fn updated_at(db: &Database, id: UserId) -> DateTime<Utc> {
    let mut conn = db.conn().await.expect("a connection");
    users::table.find(id.0).select(users::updated_at).first(&mut conn).await.expect("the user's row")
}

/// Stores `username` with the email `email_address` and returns it.
async fn create(repo: &PgUserRepository, username: &str, email_address: &str) -> User {
    repo.create(new_user(username, email_address)).await.expect("create a user")
}

#[tokio::test]
async fn create_returns_the_stored_user_with_defaults() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);

    let user = create(&repo, "Ada_L", "Ada@Example.com").await;

    assert!(user.id.0 > 0);
    assert_eq!(user.username, "Ada_L");
    assert_eq!(user.email.as_str(), "Ada@Example.com", "stored as given, not lower-cased");
    assert_eq!(user.avatar.as_deref(), Some(avatar_of("Ada_L").as_str()));
    assert_eq!(user.role, Role::User);
    assert!(!user.confirmed);
    assert!((Utc::now() - user.created_at).abs() < Duration::minutes(1), "created_at {}", user.created_at);
    assert_eq!(repo.find_by_id(user.id).await.unwrap(), Some(user.clone()), "reads back as created");

    let other = create(&repo, "grace", "grace@example.com").await;
    assert_ne!(other.id, user.id);
}

#[tokio::test]
async fn an_email_taken_in_another_case_is_a_conflict() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);
    create(&repo, "ada", "ada@example.com").await;

    let conflict = expect_conflict(repo.create(new_user("someone_else", "ADA@Example.COM")).await);

    assert_eq!(conflict, Conflict::EmailTaken);
    assert!(repo.find_credentials("someone_else").await.unwrap().is_none(), "nothing stored");
}

#[tokio::test]
async fn a_username_taken_in_another_case_is_a_conflict_with_its_own_message() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);
    create(&repo, "Ada_L", "ada@example.com").await;

    let username = expect_conflict(repo.create(new_user("aDA_l", "other@example.com")).await);
    let email_taken = expect_conflict(repo.create(new_user("other", "ada@example.com")).await);

    assert_eq!(username, Conflict::UsernameTaken, "clients are told which field is taken");
    assert_eq!(email_taken, Conflict::EmailTaken);
    assert!(repo.find_by_email(&email("other@example.com")).await.unwrap().is_none(), "nothing stored");
}

#[tokio::test]
async fn find_by_id_returns_the_user_or_none() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);
    let ada = create(&repo, "ada", "ada@example.com").await;
    let grace = create(&repo, "grace", "grace@example.com").await;

    assert_eq!(repo.find_by_id(ada.id).await.unwrap(), Some(ada));
    assert_eq!(repo.find_by_id(grace.id).await.unwrap(), Some(grace.clone()));
    assert_eq!(repo.find_by_id(UserId(grace.id.0 + 1)).await.unwrap(), None);
}

#[tokio::test]
async fn find_by_email_ignores_case() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);
    let ada = create(&repo, "ada", "Ada.Lovelace@Example.com").await;
    create(&repo, "grace", "grace@example.com").await;

    for query in ["Ada.Lovelace@Example.com", "ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM"] {
        assert_eq!(repo.find_by_email(&email(query)).await.unwrap(), Some(ada.clone()), "{query}");
    }
    assert_eq!(repo.find_by_email(&email("ada@example.com")).await.unwrap(), None);
}

#[tokio::test]
async fn find_credentials_accepts_the_username_or_the_email_in_any_case() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);
    let ada = create(&repo, "Ada_L", "Ada@Example.com").await;
    let grace = create(&repo, "grace", "grace@example.com").await;

    for login in ["Ada_L", "ada_l", "ADA_L", "Ada@Example.com", "ada@example.com", "ADA@EXAMPLE.COM"] {
        let credentials = repo.find_credentials(login).await.unwrap().unwrap_or_else(|| panic!("{login} not found"));
        assert_eq!(credentials.user, ada, "{login}");
        assert_eq!(credentials.password_hash, PasswordHash(PASSWORD_HASH.to_owned()), "{login}");
    }
    assert_eq!(repo.find_credentials("GRACE").await.unwrap().map(|c| c.user), Some(grace));
    for miss in ["ada", "Ada_L@Example.com", "nobody@example.com", ""] {
        assert!(repo.find_credentials(miss).await.unwrap().is_none(), "{miss}");
    }
}

/// The login throttle and the mail flood guard key a name by the domain's `fold_case`; the
/// lookups here compare with `lower()`. Where the store takes two spellings for one account, the
/// key must too, or `bİll` would find `bill`'s account under a key of its own (a fresh failure
/// budget): every character `lower()` changes, `fold_case` changes into the same one. (The other
/// way round is harmless and does happen: Rust knows case pairs newer than the C library's.)
#[tokio::test]
async fn the_domain_case_fold_takes_every_spelling_the_store_does() {
    use diesel::sql_types::Text;
    #[derive(diesel::QueryableByName)]
    struct Changed {
        #[diesel(sql_type = Text)]
        pairs: String,
    }
    let (_test_db, db) = migrated_db().await;
    let mut conn = db.conn().await.expect("a connection");
    // Every character but NUL and the surrogates that `lower()` changes, each followed by what
    // it makes of it (one character: the C library maps each on its own).
    let store: Changed = diesel::sql_query(
        "SELECT string_agg(chr(c) || lower(chr(c)), '' ORDER BY c) AS pairs FROM generate_series(1, 1114111) AS c \
         WHERE c NOT BETWEEN 55296 AND 57343 AND lower(chr(c)) <> chr(c)",
    )
    .get_result(&mut conn)
    .await
    .expect("the store's lower cases");
    let chars: Vec<char> = store.pairs.chars().collect();
    assert!(chars.len() > 2_000 && chars.len().is_multiple_of(2), "{} characters", chars.len());
    let differing: Vec<String> = chars
        .chunks(2)
        .filter(|pair| contacts_domain::email::fold_case(&pair[0].to_string()) != pair[1].to_string())
        .map(|pair| format!("U+{:04X}", u32::from(pair[0])))
        .collect();
    assert!(differing.is_empty(), "lower-cased otherwise by the store: {differing:?}");
    assert!(store.pairs.contains("İi"), "the store lower-cases U+0130 to a plain i");
    let repo = PgUserRepository::new(db);
    let bill = create(&repo, "bill", "bill@example.com").await;
    assert_eq!(repo.find_credentials("bİll").await.unwrap().map(|c| c.user), Some(bill), "one account, one key");
}

#[tokio::test]
async fn confirm_email_marks_the_user_confirmed() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db.clone());
    let ada = create(&repo, "ada", "ada@example.com").await;
    let grace = create(&repo, "grace", "grace@example.com").await;
    let updated_before = updated_at(&db, ada.id).await;

    let confirmed = repo.confirm_email(ada.id).await.unwrap();

    let expected = User { confirmed: true, ..ada.clone() };
    assert_eq!(confirmed, Some(expected.clone()));
    assert_eq!(repo.find_by_id(ada.id).await.unwrap(), Some(expected.clone()), "persisted");
    assert!(updated_at(&db, ada.id).await > updated_before, "updated_at moves");
    assert_eq!(repo.find_by_id(grace.id).await.unwrap(), Some(grace), "other users untouched");
    let updated = updated_at(&db, ada.id).await;
    assert_eq!(repo.confirm_email(ada.id).await.unwrap(), None, "the second confirmation confirms nothing");
    assert_eq!(updated_at(&db, ada.id).await, updated, "and changes nothing");
    assert_eq!(repo.find_by_id(ada.id).await.unwrap(), Some(expected));
    assert_eq!(repo.confirm_email(UserId(-1)).await.unwrap(), None);
}

/// Of many confirmations of one user at once, exactly one confirms (the others find it done).
#[tokio::test]
async fn concurrent_confirmations_confirm_once() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db.clone());
    let ada = create(&repo, "ada", "ada@example.com").await;
    let clicks: Vec<_> = (0..8)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move { repo.confirm_email(ada.id).await.unwrap() })
        })
        .collect();
    let mut confirmed = 0;
    for click in clicks {
        confirmed += usize::from(click.await.unwrap().is_some());
    }
    assert_eq!(confirmed, 1);
}

#[tokio::test]
async fn set_role_finds_the_user_by_email_in_any_case() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db.clone());
    let ada = create(&repo, "ada", "Ada@Example.com").await;
    let grace = create(&repo, "grace", "grace@example.com").await;
    let updated_before = updated_at(&db, ada.id).await;

    let admin = repo.set_role(&email("ADA@example.COM"), Role::Admin).await.unwrap();

    assert_eq!(admin, Some(User { role: Role::Admin, ..ada.clone() }));
    assert_eq!(repo.find_by_id(ada.id).await.unwrap().map(|u| u.role), Some(Role::Admin), "persisted");
    assert!(updated_at(&db, ada.id).await > updated_before, "updated_at moves");
    assert_eq!(repo.find_by_id(grace.id).await.unwrap(), Some(grace), "other users untouched");

    let demoted = repo.set_role(&email("ada@example.com"), Role::User).await.unwrap();
    assert_eq!(demoted, Some(ada));
    assert_eq!(repo.set_role(&email("nobody@example.com"), Role::Admin).await.unwrap(), None);
}

#[tokio::test]
async fn the_role_column_refuses_anything_but_user_and_admin() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db.clone());
    let ada = create(&repo, "ada", "ada@example.com").await;

    for role in ["superuser", "Admin", "USER", ""] {
        let update = format!("UPDATE users SET role = '{role}' WHERE id = {}", ada.id);
        assert_violates(execute_sql(&db, &update).await, DatabaseErrorKind::CheckViolation, "users_role_check");
    }
    assert_eq!(repo.find_by_id(ada.id).await.unwrap(), Some(ada), "the row is unchanged");

    let insert =
        "INSERT INTO users (username, email, password_hash, role) VALUES ('root', 'root@example.com', 'x', 'root')";
    assert_violates(execute_sql(&db, insert).await, DatabaseErrorKind::CheckViolation, "users_role_check");
    let admin =
        "INSERT INTO users (username, email, password_hash, role) VALUES ('boss', 'boss@example.com', 'x', 'admin')";
    assert_eq!(execute_sql(&db, admin).await.unwrap(), 1, "admin is allowed");
    assert_eq!(repo.find_credentials("boss").await.unwrap().map(|c| c.user.role), Some(Role::Admin));
}

#[tokio::test]
async fn the_users_table_checks_lengths_and_case_insensitive_uniqueness() {
    let (_test_db, db) = migrated_db().await;
    let insert = |username: &str, email_address: &str| {
        format!("INSERT INTO users (username, email, password_hash) VALUES ({username}, {email_address}, 'x')")
    };
    let cases = [
        (insert("'ab'", "'ab@example.com'"), DatabaseErrorKind::CheckViolation, "users_username_check"),
        (insert("repeat('u', 51)", "'u@example.com'"), DatabaseErrorKind::CheckViolation, "users_username_check"),
        (insert("'long'", "repeat('e', 255)"), DatabaseErrorKind::CheckViolation, "users_email_check"),
    ];
    for (sql, kind, constraint) in cases {
        assert_violates(execute_sql(&db, &sql).await, kind, constraint);
    }

    assert_eq!(execute_sql(&db, &insert("repeat('u', 50)", "'Ada@Example.com'")).await.unwrap(), 1);
    let same_email = insert("'ada'", "'ada@EXAMPLE.com'");
    assert_violates(execute_sql(&db, &same_email).await, DatabaseErrorKind::UniqueViolation, "users_email_key");
    let same_username = insert("repeat('U', 50)", "'other@example.com'");
    assert_violates(execute_sql(&db, &same_username).await, DatabaseErrorKind::UniqueViolation, "users_username_key");
}

#[tokio::test]
async fn update_avatar_returns_the_url_it_replaced() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);
    let ada = create(&repo, "ada", "ada@example.com").await;

    let (updated, previous) = repo.update_avatar(ada.id, "http://app.test/media/a.png").await.unwrap().unwrap();
    assert_eq!(updated.avatar.as_deref(), Some("http://app.test/media/a.png"));
    assert_eq!(previous, ada.avatar, "the default avatar was replaced");
    let (_, previous) = repo.update_avatar(ada.id, "http://app.test/media/b.png").await.unwrap().unwrap();
    assert_eq!(previous.as_deref(), Some("http://app.test/media/a.png"));
    assert!(repo.update_avatar(UserId(-1), "http://app.test/media/c.png").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_racing_avatar_updates_each_replaces_a_different_url() {
    let (test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);
    let ada = create(&repo, "ada", "ada@example.com").await;
    let racing = PgUserRepository::new(Database::connect_lazy(test_db.url(), 4).expect("a pool"));
    let urls: Vec<String> = (0..4).map(|i| format!("http://app.test/media/{i}.png")).collect();

    let mut racers = tokio::task::JoinSet::new();
    for url in urls.clone() {
        let repo = racing.clone();
        racers.spawn(async move { repo.update_avatar(ada.id, &url).await.unwrap().unwrap().1.unwrap() });
    }
    let mut replaced = racers.join_all().await;

    // Every URL but the last written was replaced exactly once, and so was the default: no
    // write saw the same previous URL as another (which would orphan a file).
    let current = repo.find_by_id(ada.id).await.unwrap().unwrap().avatar.unwrap();
    let mut expected: Vec<String> = urls.into_iter().filter(|u| *u != current).collect();
    expected.push(ada.avatar.unwrap());
    replaced.sort();
    expected.sort();
    assert_eq!(replaced, expected);
}

#[tokio::test]
async fn end_session_records_the_session_and_prunes_those_whose_tokens_have_expired() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);
    let user = create(&repo, "ada", "ada@example.com").await;
    let other = create(&repo, "grace", "grace@example.com").await;
    assert!(user.ended_sessions.is_empty());
    let now = Utc::now();

    let ended = repo.end_session(user.id, "s1", now + Duration::minutes(15), now).await.unwrap().unwrap();
    assert_eq!(ended.ended_sessions, vec!["s1".to_owned()]);
    let later = now + Duration::minutes(10);
    let ended = repo.end_session(user.id, "s2", later + Duration::minutes(15), later).await.unwrap().unwrap();
    assert_eq!(ended.ended_sessions, vec!["s1".to_owned(), "s2".to_owned()]);
    assert_eq!(repo.find_by_id(user.id).await.unwrap().unwrap().ended_sessions, ended.ended_sessions);

    // s1's access tokens have all expired by now: pruned.
    let much_later = now + Duration::minutes(20);
    let ended = repo.end_session(user.id, "s3", much_later + Duration::minutes(15), much_later).await.unwrap();
    assert_eq!(ended.unwrap().ended_sessions, vec!["s2".to_owned(), "s3".to_owned()]);
    assert!(repo.find_by_id(other.id).await.unwrap().unwrap().ended_sessions.is_empty(), "one user only");
    assert_eq!(repo.end_session(UserId(i64::MAX), "s", now, now).await.unwrap(), None);
}

#[tokio::test]
async fn end_all_sessions_bumps_the_token_version() {
    let (_test_db, db) = migrated_db().await;
    let repo = PgUserRepository::new(db);
    let user = create(&repo, "ada", "ada@example.com").await;

    let ended = repo.end_all_sessions(user.id).await.unwrap().unwrap();

    assert_eq!(ended.token_version, user.token_version + 1);
    assert_eq!(repo.find_by_id(user.id).await.unwrap().unwrap().token_version, user.token_version + 1);
    assert_eq!(repo.end_all_sessions(UserId(i64::MAX)).await.unwrap(), None);
}
