use std::time::Duration;

use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::*;
use crate::PgUserRepository;
use crate::test_fixtures::{execute_sql, migrated_db, new_user};
use contacts_domain::user::{Role, UserRepository};

/// The next change heard, within a few seconds.
async fn next(heard: &mut UnboundedReceiver<UserChange>) -> UserChange {
    tokio::time::timeout(Duration::from_secs(10), heard.recv()).await.expect("a change heard in time").unwrap()
}

#[tokio::test]
async fn every_change_to_a_user_is_heard_whoever_makes_it_and_a_new_connection_hears_any() {
    let (test_db, db) = migrated_db().await;
    let (tell, mut heard) = unbounded_channel();
    let listener = tokio::spawn(listen_for_user_changes(test_db.url().to_owned(), move |change| {
        let _ = tell.send(change);
    }));
    assert_eq!(next(&mut heard).await, UserChange::Any, "listening from now on: what came before is unknown");

    let users = PgUserRepository::new(db.clone());
    let ada = users.create(new_user("ada", "ada@example.com")).await.unwrap();
    let grace = users.create(new_user("grace", "grace@example.com")).await.unwrap();
    users.confirm_email(ada.id).await.unwrap();
    assert_eq!(next(&mut heard).await, UserChange::One(ada.id), "a change through the repository");
    let email = crate::test_fixtures::email("GRACE@example.com");
    users.set_role(&email, Role::Admin).await.unwrap();
    assert_eq!(next(&mut heard).await, UserChange::One(grace.id), "a role set as set-role sets it");
    execute_sql(&db, &format!("UPDATE users SET avatar = NULL WHERE id = {}", ada.id.0)).await.unwrap();
    assert_eq!(next(&mut heard).await, UserChange::One(ada.id), "an operator's own SQL");
    execute_sql(&db, &format!("DELETE FROM users WHERE id = {}", grace.id.0)).await.unwrap();
    assert_eq!(next(&mut heard).await, UserChange::One(grace.id), "a deleted user");
    assert!(heard.try_recv().is_err(), "creating users announces nothing");

    // The listening connection cut off: the listener connects again and says anything may
    // have changed meanwhile, then hears changes as before.
    let cut = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
               WHERE datname = current_database() AND query LIKE 'LISTEN%'";
    assert_eq!(execute_sql(&db, cut).await.unwrap(), 1, "the listener's connection was found");
    assert_eq!(next(&mut heard).await, UserChange::Any);
    users.end_all_sessions(ada.id).await.unwrap();
    assert_eq!(next(&mut heard).await, UserChange::One(ada.id));
    listener.abort();
}
