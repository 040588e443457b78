use chrono::TimeZone;

use super::*;
use crate::test_fixtures::{PASSWORD_HASH, TwoUsers, execute_sql, two_users};

/// A fresh database with the app-password store and two users.
type Fixture = TwoUsers<PgAppPasswords>;

async fn fixture() -> Fixture {
    two_users(PgAppPasswords::new).await
}

/// Stores an app password for `owner`, whose sessions have not ended since (version 0).
async fn add(f: &Fixture, owner: UserId, name: &str, fingerprint: &str) -> AppPassword {
    f.store.insert(owner, 0, name, fingerprint).await.unwrap().expect("the owner's version is current")
}

/// A fixed instant with no sub-microsecond part, so it reads back unchanged.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
}

#[tokio::test]
async fn passwords_are_listed_per_owner_oldest_first_without_use() {
    let f = fixture().await;
    let phone = add(&f, f.ada, "phone", "fp-phone").await;
    let laptop = add(&f, f.ada, "laptop", "fp-laptop").await;
    add(&f, f.grace, "tablet", "fp-tablet").await;
    assert!(phone.id < laptop.id);
    assert!((Utc::now() - phone.created_at).num_minutes() < 1 && phone.last_used_at.is_none());

    let listed = f.store.list(f.ada).await.unwrap();
    assert_eq!(listed, vec![phone, laptop]);
    let theirs: Vec<String> = f.store.list(f.grace).await.unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(theirs, vec!["tablet"]);
}

#[tokio::test]
async fn only_the_owner_deletes_a_password() {
    let f = fixture().await;
    let phone = add(&f, f.ada, "phone", "fp-phone").await;
    assert!(!f.store.delete(f.grace, phone.id).await.unwrap());
    assert!(f.store.delete(f.ada, phone.id).await.unwrap());
    assert!(!f.store.delete(f.ada, phone.id).await.unwrap(), "already gone");
    assert!(f.store.list(f.ada).await.unwrap().is_empty());
    assert_eq!(f.store.verify("ada", "fp-phone", now()).await.unwrap(), None, "a revoked password signs in no more");
}

#[tokio::test]
async fn verify_takes_the_username_or_email_in_any_case_and_records_the_use() {
    let f = fixture().await;
    let phone = add(&f, f.ada, "phone", "fp-phone").await;
    let laptop = add(&f, f.ada, "laptop", "fp-laptop").await;

    for login in ["ada", "ADA", "ada@example.com", "Ada@Example.COM"] {
        assert_eq!(f.store.verify(login, "fp-phone", now()).await.unwrap(), Some((f.ada, "ada".to_owned())), "{login}");
    }
    let listed = f.store.list(f.ada).await.unwrap();
    assert_eq!(listed[0], AppPassword { last_used_at: Some(now()), ..phone });
    assert_eq!(listed[1], laptop, "only the password used is marked");
}

#[tokio::test]
async fn a_use_is_written_only_once_the_recorded_one_is_a_minute_old() {
    let f = fixture().await;
    add(&f, f.ada, "phone", "fp-phone").await;
    let used_at = async || f.store.list(f.ada).await.unwrap()[0].last_used_at;
    let at = |seconds| now() + chrono::TimeDelta::seconds(seconds);

    for (signed_in, recorded) in [(0, 0), (59, 0), (60, 60), (61, 60), (30, 60), (200, 200)] {
        let verified = f.store.verify("ada", "fp-phone", at(signed_in)).await.unwrap();
        assert_eq!(verified, Some((f.ada, "ada".to_owned())), "a use within the minute signs in all the same");
        assert_eq!(used_at().await, Some(at(recorded)), "signed in at +{signed_in} s");
    }
}

#[tokio::test]
async fn a_password_signs_in_only_its_owner() {
    let f = fixture().await;
    add(&f, f.ada, "phone", "fp-ada").await;
    assert_eq!(f.store.verify("grace", "fp-ada", now()).await.unwrap(), None);
    assert_eq!(f.store.verify("ada", "fp-unknown", now()).await.unwrap(), None);
    assert_eq!(f.store.verify("nobody", "fp-ada", now()).await.unwrap(), None);
    assert!(f.store.list(f.ada).await.unwrap()[0].last_used_at.is_none(), "failed attempts mark nothing");
}

#[tokio::test]
async fn a_password_change_revokes_every_password_of_that_user_only() {
    let f = fixture().await;
    add(&f, f.ada, "phone", "fp-phone").await;
    add(&f, f.ada, "laptop", "fp-laptop").await;
    add(&f, f.grace, "tablet", "fp-tablet").await;

    let same = format!("UPDATE users SET password_hash = '{PASSWORD_HASH}' WHERE id = {}", f.ada.0);
    execute_sql(&f.db, &same).await.unwrap();
    assert_eq!(f.store.list(f.ada).await.unwrap().len(), 2, "an update that keeps the hash revokes nothing");

    let changed = format!("UPDATE users SET password_hash = '$2b$04$another' WHERE id = {}", f.ada.0);
    execute_sql(&f.db, &changed).await.unwrap();
    assert!(f.store.list(f.ada).await.unwrap().is_empty());
    assert_eq!(f.store.verify("ada", "fp-phone", now()).await.unwrap(), None);
    assert_eq!(f.store.list(f.grace).await.unwrap().len(), 1);
}

/// A request signed in before the owner's sessions ended (a password reset bumps the version)
/// stores nothing, also when the reset is still running as it inserts: the insert waits for
/// the reset's lock on the user and then finds the version changed.
#[tokio::test]
async fn a_password_made_by_a_session_a_reset_ends_is_never_kept() {
    let f = fixture().await;
    assert_eq!(f.store.insert(f.ada, 1, "phone", "fp-stale").await.unwrap(), None, "a version not the user's");
    assert!(f.store.list(f.ada).await.unwrap().is_empty());

    let mut reset = f.db.conn().await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut reset).await.unwrap();
    let bump = format!(
        "UPDATE users SET password_hash = '$2b$04$another', token_version = token_version + 1 WHERE id = {}",
        f.ada.0
    );
    diesel::sql_query(bump).execute(&mut reset).await.unwrap();
    let store = f.store.clone();
    let ada = f.ada;
    let racing = tokio::spawn(async move { store.insert(ada, 0, "laptop", "fp-racing").await.unwrap() });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!racing.is_finished(), "the insert waits for the reset's lock on the user");
    diesel::sql_query("COMMIT").execute(&mut reset).await.unwrap();
    assert_eq!(racing.await.unwrap(), None, "then finds the version changed");
    assert!(f.store.list(f.ada).await.unwrap().is_empty());
    assert_eq!(f.store.insert(f.ada, 1, "tablet", "fp-new").await.unwrap().map(|p| p.name), Some("tablet".into()));
}
