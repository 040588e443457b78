use std::future::Future;
use std::time::Instant;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

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

/// Ends every other session of the database, as a restart or an operator would, and waits
/// until the server has closed them all.
async fn terminate_other_sessions(test_db: &TestDatabase) {
    let killer = Database::connect_lazy(test_db.url(), 1).unwrap();
    let others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
    execute_sql(&killer, &format!("SELECT pg_terminate_backend(pid) {others}")).await.expect("terminate");
    let wait = format!(
        "DO $$ BEGIN WHILE EXISTS (SELECT 1 {others}) LOOP \
         PERFORM pg_sleep(0.01); PERFORM pg_stat_clear_snapshot(); END LOOP; END $$"
    );
    execute_sql(&killer, &wait).await.expect("wait for the sessions to end");
}

#[tokio::test]
async fn the_pool_replaces_connections_the_server_closed() {
    let test_db = TestDatabase::create().await;
    let db = Database::connect_lazy(test_db.url(), 1).unwrap();
    db.ping().await.expect("ping before");

    terminate_other_sessions(&test_db).await;
    // The driver sees the socket close as soon as its task runs; the pool then drops the
    // connection instead of handing it out.
    tokio::time::sleep(Duration::from_millis(100)).await;

    db.ping().await.expect("ping after the connection was closed");
}

/// A TCP relay to `target` that starts dropping every byte once `cut` is set, like a network
/// that silently loses a connection: no reset, no close, just silence. Returns its address.
async fn relay(target: String, cut: Arc<AtomicBool>) -> String {
    async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, cut: Arc<AtomicBool>) {
        let mut buf = vec![0u8; 8192];
        while let Ok(n @ 1..) = from.read(&mut buf).await {
            // (`AtomicBool::load` by name: diesel's `RunQueryDsl::load` is in scope too.)
            if !AtomicBool::load(&cut, Ordering::Relaxed) && to.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(&target).await else { continue };
            let ((client_in, client_out), (server_in, server_out)) = (client.into_split(), server.into_split());
            tokio::spawn(pump(client_in, server_out, cut.clone()));
            tokio::spawn(pump(server_in, client_out, cut.clone()));
        }
    });
    address
}

/// `test_db`'s URL through a [`relay`] that goes silent when `cut` is set.
async fn relayed_url(test_db: &TestDatabase, cut: Arc<AtomicBool>) -> String {
    let (credentials, rest) = test_db.url().split_once('@').unwrap();
    let (server, database) = rest.split_once('/').unwrap();
    format!("{credentials}@{}/{database}", relay(server.to_owned(), cut).await)
}

#[tokio::test]
async fn an_idle_connection_cut_off_silently_is_not_handed_out() {
    let test_db = TestDatabase::create().await;
    let cut = Arc::new(AtomicBool::new(false));
    let through_relay = relayed_url(&test_db, cut.clone()).await;
    // Every connection counts as idle, so every reuse is checked.
    let db = Database::with_checks(&through_relay, 1, Duration::ZERO, answers::ANSWER_WITHIN).unwrap();
    db.ping().await.expect("ping through the relay");

    cut.store(true, Ordering::Relaxed);

    // Unchecked, the pooled connection would be handed out and its query would wait forever.
    let result = tokio::time::timeout(3 * PATIENCE, db.ping()).await.expect("an answer, not a hang");
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

#[tokio::test]
async fn a_pool_of_idle_connections_all_cut_off_is_unavailable_within_seconds() {
    let test_db = TestDatabase::create().await;
    let cut = Arc::new(AtomicBool::new(false));
    let through_relay = relayed_url(&test_db, cut.clone()).await;
    // Eight connections open, every reuse checked: the pool tries them one after another.
    let db = Database::with_checks(&through_relay, 8, Duration::ZERO, answers::ANSWER_WITHIN).unwrap();
    let held: Vec<_> = futures_util::future::join_all((0..8).map(|_| db.conn())).await;
    assert!(held.iter().all(Result::is_ok), "eight connections through the relay");
    drop(held);
    assert_eq!(db.usage().idle, 8);

    cut.store(true, Ordering::Relaxed);

    // Each check alone gives up in time; their sum must not be what the caller waits.
    assert_unavailable_quickly("ping", db.ping()).await;
    assert_unavailable_quickly("a connection", async { db.conn().await.map(drop) }).await;
}

#[tokio::test]
async fn a_ping_on_a_busy_connection_that_went_silent_is_unavailable_in_seconds_and_the_connection_is_dropped() {
    let test_db = TestDatabase::create().await;
    let cut = Arc::new(AtomicBool::new(false));
    let through_relay = relayed_url(&test_db, cut.clone()).await;
    // In steady use: reused without a check, as a busy server's connections are.
    let db = Database::connect_lazy(&through_relay, 1).unwrap();
    db.ping().await.expect("ping through the relay");

    cut.store(true, Ordering::Relaxed);
    assert_unavailable_quickly("ping on a silent connection", db.ping()).await;
    assert_eq!(db.usage().in_use + db.usage().idle, 0, "the silent connection is closed, not pooled again");

    cut.store(false, Ordering::Relaxed);
    db.ping().await.expect("a new connection once the route answers again");
}

#[tokio::test]
async fn a_statement_on_a_connection_in_use_that_went_silent_fails_once_its_answer_is_overdue() {
    let test_db = TestDatabase::create().await;
    let cut = Arc::new(AtomicBool::new(false));
    let through_relay = relayed_url(&test_db, cut.clone()).await;
    let answer_within = Duration::from_secs(1);
    // In steady use, so never checked before reuse: only the overdue answer can tell.
    let db = Database::with_checks(&through_relay, 1, Duration::from_secs(3600), answer_within).unwrap();
    execute_sql(&db, "SELECT 1").await.expect("through the relay");

    cut.store(true, Ordering::Relaxed);
    let started = Instant::now();
    let answer = tokio::time::timeout(3 * PATIENCE, execute_sql(&db, "SELECT 1")).await.expect("an answer, not a hang");
    let result = answer.map_err(crate::error::query_error);
    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert!(started.elapsed() >= answer_within && started.elapsed() < PATIENCE, "{:?}", started.elapsed());

    // The dead connection is not handed out again: the next statement gets a new one.
    cut.store(false, Ordering::Relaxed);
    execute_sql(&db, "SELECT 1").await.expect("a new connection");
}

#[tokio::test]
async fn a_slow_statement_that_answers_in_time_is_not_cut() {
    let test_db = TestDatabase::create().await;
    let db = Database::with_checks(test_db.url(), 1, IDLE_BEFORE_CHECK, Duration::from_secs(2)).unwrap();
    // Half a second of silence, then the answer; and a connection left idle longer than the
    // limit afterwards is still good (only a write waits for an answer).
    execute_sql(&db, "SELECT pg_sleep(0.5)").await.expect("answered in time");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    db.ping().await.expect("an idle connection is not timed");
}

#[tokio::test]
async fn a_query_cut_off_by_a_server_shutdown_is_unavailable_not_unexpected() {
    let test_db = TestDatabase::create().await;
    let db = Database::connect_lazy(test_db.url(), 1).unwrap();

    // pg_terminate_backend is what a fast shutdown does to every session.
    let (slow, _) = tokio::join!(execute_sql(&db, "SELECT pg_sleep(5)"), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        terminate_other_sessions(&test_db).await;
    });

    let error = crate::error::query_error(slow.expect_err("the sleep was cut off"));
    assert!(matches!(error, Error::Unavailable(_)), "{error:?}");
}
