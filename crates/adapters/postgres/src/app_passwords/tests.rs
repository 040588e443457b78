use chrono::TimeZone;

use super::*;
use crate::test_fixtures::{PASSWORD_HASH, TwoUsers, execute_sql, two_users};

/// A fresh database with the app-password store and two users.
type Fixture = TwoUsers<PgAppPasswords>;

async fn fixture() -> Fixture {
    two_users(PgAppPasswords::new).await
}

/// A fixed instant with no sub-microsecond part, so it reads back unchanged.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap()
}

#[tokio::test]
async fn passwords_are_listed_per_owner_oldest_first_without_use() {
    let f = fixture().await;
    let phone = f.store.insert(f.ada, "phone", "fp-phone").await.unwrap();
    let laptop = f.store.insert(f.ada, "laptop", "fp-laptop").await.unwrap();
    f.store.insert(f.grace, "tablet", "fp-tablet").await.unwrap();
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
    let phone = f.store.insert(f.ada, "phone", "fp-phone").await.unwrap();
    assert!(!f.store.delete(f.grace, phone.id).await.unwrap());
    assert!(f.store.delete(f.ada, phone.id).await.unwrap());
    assert!(!f.store.delete(f.ada, phone.id).await.unwrap(), "already gone");
    assert!(f.store.list(f.ada).await.unwrap().is_empty());
    assert_eq!(f.store.verify("ada", "fp-phone", now()).await.unwrap(), None, "a revoked password signs in no more");
}

#[tokio::test]
async fn verify_takes_the_username_or_email_in_any_case_and_records_the_use() {
    let f = fixture().await;
    let phone = f.store.insert(f.ada, "phone", "fp-phone").await.unwrap();
    let laptop = f.store.insert(f.ada, "laptop", "fp-laptop").await.unwrap();

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
    f.store.insert(f.ada, "phone", "fp-phone").await.unwrap();
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
    f.store.insert(f.ada, "phone", "fp-ada").await.unwrap();
    assert_eq!(f.store.verify("grace", "fp-ada", now()).await.unwrap(), None);
    assert_eq!(f.store.verify("ada", "fp-unknown", now()).await.unwrap(), None);
    assert_eq!(f.store.verify("nobody", "fp-ada", now()).await.unwrap(), None);
    assert!(f.store.list(f.ada).await.unwrap()[0].last_used_at.is_none(), "failed attempts mark nothing");
}

#[tokio::test]
async fn a_password_change_revokes_every_password_of_that_user_only() {
    let f = fixture().await;
    f.store.insert(f.ada, "phone", "fp-phone").await.unwrap();
    f.store.insert(f.ada, "laptop", "fp-laptop").await.unwrap();
    f.store.insert(f.grace, "tablet", "fp-tablet").await.unwrap();

    let same = format!("UPDATE users SET password_hash = '{PASSWORD_HASH}' WHERE id = {}", f.ada.0);
    execute_sql(&f.db, &same).await.unwrap();
    assert_eq!(f.store.list(f.ada).await.unwrap().len(), 2, "an update that keeps the hash revokes nothing");

    let changed = format!("UPDATE users SET password_hash = '$2b$04$another' WHERE id = {}", f.ada.0);
    execute_sql(&f.db, &changed).await.unwrap();
    assert!(f.store.list(f.ada).await.unwrap().is_empty());
    assert_eq!(f.store.verify("ada", "fp-phone", now()).await.unwrap(), None);
    assert_eq!(f.store.list(f.grace).await.unwrap().len(), 1);
}
