//! Slow senders: a body must arrive within a fixed time of its headers (`408`, connection
//! closed), so trickling clients cannot hold connections open.

use std::time::{Duration, Instant};

use contacts_test_support::TestDatabase;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

/// The body timeout in these tests: the contract's 10 s would make them slow.
const TIMEOUT: Duration = Duration::from_secs(2);

#[test]
fn the_body_timeout_is_ten_seconds_by_default() {
    let vars = [("DATABASE_URL", "postgres://localhost/x"), ("JWT_SECRET", JWT_SECRET)];
    let settings = contacts_api::config::Settings::from_source(&|key: &str| {
        vars.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned())
    })
    .unwrap();
    assert_eq!(settings.request_body_timeout, Duration::from_secs(10));
}

/// Sends headers announcing a 60,000-byte body (by its length, or as one chunk of that size),
/// then one byte every 200 ms; returns what the server wrote, how long its answer took and
/// whether it then closed the connection.
async fn trickle(address: &str, path: &str, content_type: &str, chunked: bool) -> (String, Duration, bool) {
    let mut socket = TcpStream::connect(address.trim_start_matches("http://")).await.unwrap();
    let framing = if chunked { "Transfer-Encoding: chunked\r\n\r\nea60\r\n" } else { "Content-Length: 60000\r\n\r\n" };
    let head = format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: {content_type}\r\n{framing}");
    // The clock starts before the headers leave: the server's own clock starts once it has
    // read them, which on loopback can be before `write_all` returns here.
    let started = Instant::now();
    socket.write_all(head.as_bytes()).await.unwrap();
    let (mut read, mut write) = socket.into_split();
    let sender = tokio::spawn(async move {
        while write.write_all(b" ").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    let mut closed = false;
    let mut answered_after = None;
    while started.elapsed() < TIMEOUT + Duration::from_secs(8) {
        match tokio::time::timeout(Duration::from_millis(500), read.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(n)) => {
                answered_after.get_or_insert(started.elapsed());
                answer.extend_from_slice(&buffer[..n]);
            }
            Err(_) => {}
        }
    }
    sender.abort();
    (String::from_utf8_lossy(&answer).into_owned(), answered_after.unwrap_or(Duration::MAX), closed)
}

#[tokio::test]
async fn a_body_that_trickles_in_is_answered_408_and_its_connection_closed() {
    let app = spawn_app_tuned(TestDatabase::create().await, &[], |s| s.request_body_timeout = TIMEOUT).await;
    // A chunked body too: actix-http drains an unfinished chunked body after the answer unless
    // the request still holds it, and kept such a connection for minutes.
    for ((path, content_type), chunked) in [
        (("/api/auth/register", "application/json"), false),
        (("/api/auth/login", "application/x-www-form-urlencoded"), false),
        (("/api/auth/register", "application/json"), true),
        (("/api/auth/login", "application/x-www-form-urlencoded"), true),
    ] {
        let (answer, after, closed) = trickle(&app.address, path, content_type, chunked).await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{path}: {answer:?}");
        assert!(answer.contains("\"detail\""), "{answer}");
        assert!(after >= TIMEOUT && after < TIMEOUT + Duration::from_secs(3), "{path}: answered after {after:?}");
        assert!(closed, "{path} (chunked: {chunked}): the connection is closed after the 408");
    }
    // A body sent in time is untouched.
    expect(app.register("ada", "ada@example.org", PASSWORD).await, reqwest::StatusCode::CREATED).await;
}
