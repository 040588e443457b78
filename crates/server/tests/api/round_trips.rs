//! How many statements each authenticated request sends to PostgreSQL once the user cache is
//! warm, counted on every connection the app opens through diesel's instrumentation hook, not
//! guessed from timings. One statement is one round trip: pooled connections are reused
//! without a test query, and diesel keeps each statement prepared after its first use.

use std::collections::HashMap;
use std::sync::{Mutex, Once};

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use reqwest::Method;

use crate::helpers::*;

/// Statements started, by database URL (tests run in parallel, each on its own database).
static STATEMENTS: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);

/// Counts the statements of one connection under the URL it was opened with.
#[derive(Default)]
struct StatementCounter {
    url: Option<String>,
}

impl Instrumentation for StatementCounter {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => self.url = Some(url.to_owned()),
            InstrumentationEvent::StartQuery { .. } => {
                if let Some(url) = &self.url {
                    let mut counts = STATEMENTS.lock().unwrap();
                    *counts.get_or_insert_default().entry(url.clone()).or_default() += 1;
                }
            }
            _ => {}
        }
    }
}

/// Statements sent so far on `app`'s database.
fn statements(app: &TestApp) -> usize {
    STATEMENTS.lock().unwrap().as_ref().and_then(|counts| counts.get(app.db.url()).copied()).unwrap_or(0)
}

/// An app whose connections are all counted (the hook applies to connections opened after it).
async fn counted_app() -> TestApp {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        set_default_instrumentation(|| Some(Box::new(StatementCounter::default()))).expect("install the counter");
    });
    spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:6379"), ("RATE_LIMIT_ME_PER_MINUTE", "1000")]).await
}

/// Sends a request twice (the first warms the cache, the pool and the prepared statement) and
/// returns how many statements the second one sent.
async fn statements_of(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<serde_json::Value>,
) -> usize {
    let mut counts = Vec::new();
    for _ in 0..2 {
        let before = statements(app);
        let mut request = app.request(method.clone(), path).bearer_auth(token);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "{method} {path}: {}", response.status());
        counts.push(statements(app) - before);
    }
    counts[1]
}

#[tokio::test]
async fn an_authenticated_request_with_a_warm_cache_makes_one_database_round_trip() {
    let app = counted_app().await;
    let ada = app.user("ada").await;
    let grace = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.org")).await;
    let one = format!("/api/contacts/{}", grace["id"]);
    let patch = serde_json::json!({"phone": "+1 555 0100"});

    assert_eq!(statements_of(&app, Method::GET, "/api/users/me", &ada.token, None).await, 0, "the user from Redis");
    for path in ["/api/contacts/?limit=20", "/api/contacts/?q=grace", one.as_str(), "/api/contacts/birthdays"] {
        assert_eq!(statements_of(&app, Method::GET, path, &ada.token, None).await, 1, "GET {path}");
    }
    assert_eq!(statements_of(&app, Method::PATCH, &one, &ada.token, Some(patch)).await, 1, "PATCH");
    let put = contact("Grace", "Hopper", "grace@example.org");
    assert_eq!(statements_of(&app, Method::PUT, &one, &ada.token, Some(put)).await, 1, "PUT");

    let before = statements(&app);
    let created = app.create_contact(&ada, &contact("Alan", "Turing", "alan@example.org")).await;
    assert_eq!(statements(&app) - before, 1, "POST");
    let before = statements(&app);
    let response = app.request(Method::DELETE, &format!("/api/contacts/{}", created["id"])).bearer_auth(&ada.token);
    assert!(response.send().await.unwrap().status().is_success());
    assert_eq!(statements(&app) - before, 1, "DELETE");
}
