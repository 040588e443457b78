use std::future::Future;
use std::time::Instant;

use tokio::net::TcpListener;

use contacts_domain::contact::{ContactFilter, ContactRepository, Page};
use contacts_domain::user::{UserId, UserRepository};
use contacts_test_support::TestDatabase;

use super::*;
use crate::test_fixtures::execute_sql;
use crate::{PgContactRepository, PgUserRepository};

/// Nothing listens on port 1: connections are refused at once.
const CLOSED_PORT_URL: &str = "postgres://postgres@127.0.0.1:1/nope";

/// The most a caller may wait to hear that the database is down.
const PATIENCE: Duration = Duration::from_secs(5);

/// Awaits `call` and asserts that it reported [`Error::Unavailable`] within [`PATIENCE`]; a
/// call that hangs fails the test instead of hanging it.
async fn assert_unavailable_quickly<T: std::fmt::Debug>(what: &str, call: impl Future<Output = Result<T, Error>>) {
    let started = Instant::now();
    let result = tokio::time::timeout(2 * PATIENCE, call)
        .await
        .unwrap_or_else(|_| panic!("{what}: still waiting after {:?}", 2 * PATIENCE));
    let elapsed = started.elapsed();
    assert!(matches!(result, Err(Error::Unavailable(_))), "{what}: expected Error::Unavailable, got {result:?}");
    assert!(elapsed < PATIENCE, "{what}: took {elapsed:?}");
}

#[tokio::test]
async fn ping_succeeds_on_a_live_database() {
    let test_db = TestDatabase::create().await;
    let db = Database::connect_lazy(test_db.url(), 2).unwrap();

    db.ping().await.expect("first ping");
    db.ping().await.expect("ping on a recycled connection");
}

#[tokio::test]
async fn ping_reports_a_closed_port_as_unavailable_quickly() {
    let db = Database::connect_lazy(CLOSED_PORT_URL, 2).expect("a lazy pool needs no server");

    assert_unavailable_quickly("ping", db.ping()).await;
    assert_unavailable_quickly("second ping", db.ping()).await;
}

#[tokio::test]
async fn ping_reports_a_missing_database_as_unavailable() {
    let db = Database::connect_lazy("postgres://postgres@127.0.0.1:5432/contacts_no_such_database", 2).unwrap();

    assert_unavailable_quickly("ping", db.ping()).await;
}

#[tokio::test]
async fn ping_gives_up_on_a_server_that_never_answers() {
    // Accepts connections and then says nothing, like a hung server or a black-holed route.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("postgres://postgres@{}/silent", listener.local_addr().unwrap());
    let silent_server = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let db = Database::connect_lazy(&url, 2).unwrap();

    assert_unavailable_quickly("ping", db.ping()).await;
    silent_server.abort();
}

#[tokio::test]
async fn repositories_report_an_unreachable_database_as_unavailable() {
    let db = Database::connect_lazy(CLOSED_PORT_URL, 2).unwrap();
    let users = PgUserRepository::new(db.clone());
    let contacts = PgContactRepository::new(db);

    assert_unavailable_quickly("find_by_id", users.find_by_id(UserId(1))).await;
    assert_unavailable_quickly("find_credentials", users.find_credentials("ada")).await;
    let page = Page { skip: 0, limit: 10 };
    assert_unavailable_quickly("list", contacts.list(UserId(1), &ContactFilter::default(), page)).await;
}

#[tokio::test]
async fn the_pool_replaces_connections_the_server_closed() {
    let test_db = TestDatabase::create().await;
    let db = Database::connect_lazy(test_db.url(), 1).unwrap();
    db.ping().await.expect("ping before");

    // Another session kills every other backend of this database, as a restart would.
    let killer = Database::connect_lazy(test_db.url(), 1).unwrap();
    let kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                WHERE datname = current_database() AND pid <> pg_backend_pid()";
    execute_sql(&killer, kill).await.expect("terminate the pooled connection");

    db.ping().await.expect("ping after the connection was closed");
}
