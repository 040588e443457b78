//! `LOG_FORMAT=json`: the real binary writes one JSON object a line, with the request's id.

use serde_json::{Value, json};

use crate::cli::run;
use crate::helpers::*;

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_request_id() {
    let app = spawn_app().await;
    // A database of its own: the in-process app's delivery worker, polling the same outbox,
    // could otherwise claim the mail first and send it to its catcher, leaving this log without it.
    let db = contacts_test_support::TestDatabase::create().await;
    // SMTP_HOST is unset for the binary: the confirmation mail is logged inside the request.
    let server = app.serve_binary(&[("LOG_FORMAT", "json"), ("DATABASE_URL", db.url())]).await;
    let base = &server.base;
    let registered = app
        .client
        .post(format!("{base}/api/auth/register"))
        .header("X-Request-Id", "req-json-logs-1")
        .json(&json!({"username": "ada", "email": "ada@example.org", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(registered.status().is_success(), "{}", registered.status());
    assert_eq!(registered.headers()["x-request-id"], "req-json-logs-1", "the id is echoed");
    let generated = app.client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(generated.headers()["x-request-id"].len(), 32, "an id is made when none is sent");
    // The delivery worker logs the mail, then marks it sent; stopping before that would leave it
    // for the next start (as it should), and this test without its line.
    let started = std::time::Instant::now();
    while db.count("SELECT count(*) FROM mail_outbox WHERE status = 'sent'").await == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the mail was not delivered to the log");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let output = server.stop_and_read_output().await;

    let lines: Vec<Value> = output
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 3, "{output}");
    for line in &lines {
        assert!(line["time"].as_str().is_some_and(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok()), "{line}");
        assert!(["TRACE", "DEBUG", "INFO", "WARN", "ERROR"].contains(&line["level"].as_str().unwrap()), "{line}");
        assert!(line["message"].is_string() && line["fields"].is_object(), "{line}");
    }
    let find = |text: &str| {
        lines
            .iter()
            .find(|l| l["message"].as_str().unwrap().contains(text))
            .unwrap_or_else(|| panic!("{text:?} is logged: {output}"))
    };
    // Written while the request was served: it carries the request's id.
    let queued = find("confirmation mail queued");
    assert_eq!(queued["request_id"], "req-json-logs-1", "{queued}");
    // Written later by the delivery worker, outside any request.
    let mail = find("mail not sent");
    assert_eq!(mail["fields"]["to"], "ada@example.org", "{mail}");
    // The access log's line too: it is written while the request is served.
    let access = find("POST /api/auth/register 201");
    assert_eq!(access["request_id"], "req-json-logs-1", "{access}");
    assert_eq!(access["target"], "access", "{access}");
}

#[test]
fn an_unknown_log_format_stops_the_server_naming_it() {
    let output = run(&["serve"], &[("LOG_FORMAT", "xml")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.lines().any(|l| l.starts_with("error: LOG_FORMAT")), "{stderr}");
}
