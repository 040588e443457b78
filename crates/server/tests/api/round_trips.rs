//! How many statements each authenticated request sends to PostgreSQL once the user cache is
//! warm, counted on every connection the app opens through diesel's instrumentation hook, not
//! guessed from timings. One statement is one round trip: pooled connections are reused
//! without a test query, and diesel keeps each statement prepared after its first use.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, Once};

use diesel::connection::{Instrumentation, InstrumentationEvent, set_default_instrumentation};
use reqwest::{Method, RequestBuilder};
use serde_json::json;

use crate::helpers::*;

/// What each database (by URL: tests run in parallel, each on its own) was sent.
static SEEN: Mutex<Option<HashMap<String, Seen>>> = Mutex::new(None);

#[derive(Debug, Default)]
struct Seen {
    /// The SQL of every statement started, in order.
    started: Vec<String>,
    /// The SQL of every statement diesel prepared and kept. Diesel reports only those; one it
    /// does not keep is prepared again each time, a round trip of its own.
    kept: HashSet<String>,
}

/// Records the statements of one connection under the URL it was opened with.
#[derive(Default)]
struct StatementRecorder {
    url: Option<String>,
}

impl Instrumentation for StatementRecorder {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        let Some(url) = &self.url else {
            if let InstrumentationEvent::StartEstablishConnection { url, .. } = event {
                self.url = Some(url.to_owned());
            }
            return;
        };
        let mut seen = SEEN.lock().unwrap();
        let seen = seen.get_or_insert_default().entry(url.clone()).or_default();
        match event {
            // A query prints as its SQL followed by ` -- binds: [...]`.
            InstrumentationEvent::StartQuery { query, .. } => {
                let text = query.to_string();
                seen.started.push(text.split(" -- binds:").next().unwrap_or_default().to_owned());
            }
            InstrumentationEvent::CacheQuery { sql, .. } => {
                seen.kept.insert(sql.to_owned());
            }
            _ => {}
        }
    }
}

/// How many statements `app`'s database has been sent so far.
fn started(app: &TestApp) -> usize {
    SEEN.lock().unwrap().as_ref().and_then(|seen| seen.get(app.db.url())).map_or(0, |seen| seen.started.len())
}

/// The statements sent since `from`, each with whether it was a kept prepared statement.
fn sent_since(app: &TestApp, from: usize) -> Vec<(String, bool)> {
    let seen = SEEN.lock().unwrap();
    let Some(seen) = seen.as_ref().and_then(|seen| seen.get(app.db.url())) else { return Vec::new() };
    seen.started[from..].iter().map(|sql| (sql.clone(), seen.kept.contains(sql))).collect()
}

/// An app whose connections are all counted (the hook applies to connections opened after it).
async fn counted_app() -> TestApp {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        set_default_instrumentation(|| Some(Box::new(StatementRecorder::default()))).expect("install the recorder");
    });
    spawn_app_with(&[("REDIS_URL", "redis://127.0.0.1:6379"), ("RATE_LIMIT_ME_PER_MINUTE", "1000")]).await
}

/// Sends two requests of one kind (the first warms the cache, the pool and the prepared
/// statements) and returns how many statements the second sent, after checking that each was a
/// kept prepared statement, so each took a single round trip.
async fn statements_of(app: &TestApp, what: &str, mut request: impl FnMut() -> RequestBuilder) -> usize {
    let mut sent = Vec::new();
    for _ in 0..2 {
        let from = started(app);
        let response = request().send().await.unwrap();
        assert!(response.status().is_success(), "{what}: {}", response.status());
        sent = sent_since(app, from);
    }
    for (sql, kept) in &sent {
        assert!(kept, "{what}: prepared again each time, an extra round trip: {sql}");
    }
    sent.len()
}

#[tokio::test]
async fn an_authenticated_request_with_a_warm_cache_makes_one_database_round_trip() {
    let app = counted_app().await;
    let ada = app.user("ada").await;
    let grace = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.org")).await;
    let one = format!("/api/contacts/{}", grace["id"]);
    let (app, token) = (&app, ada.token.as_str());
    let get = |path: &str| {
        let path = path.to_owned();
        move || app.request(Method::GET, &path).bearer_auth(token)
    };

    assert_eq!(statements_of(app, "GET /api/users/me", get("/api/users/me")).await, 0, "the user is in Redis");
    for path in ["/api/contacts/?limit=20", "/api/contacts/?q=grace&skip=0", &one, "/api/contacts/birthdays?days=30"] {
        assert_eq!(statements_of(app, path, get(path)).await, 1, "GET {path}");
    }
    let patch = || app.request(Method::PATCH, &one).bearer_auth(token).json(&json!({"phone": "+1 555 0100"}));
    assert_eq!(statements_of(app, "PATCH", patch).await, 1, "PATCH");
    let put = || app.request(Method::PUT, &one).bearer_auth(token).json(&contact("G", "H", "g@example.org"));
    assert_eq!(statements_of(app, "PUT", put).await, 1, "PUT");
    let mut n = 0;
    let post = || {
        n += 1;
        let body = contact("Alan", "Turing", &format!("alan{n}@example.org"));
        app.request(Method::POST, "/api/contacts/").bearer_auth(token).json(&body)
    };
    assert_eq!(statements_of(app, "POST", post).await, 1, "POST");
    let mut ids = vec![grace["id"].clone()];
    ids.push(app.create_contact(&ada, &contact("Ada", "Byron", "byron@example.org")).await["id"].clone());
    let delete = || {
        let path = format!("/api/contacts/{}", ids.pop().unwrap());
        app.request(Method::DELETE, &path).bearer_auth(token)
    };
    assert_eq!(statements_of(app, "DELETE", delete).await, 1, "DELETE");
}

/// A phone signs in with its app password on every CardDAV request: after the first use, that
/// sign-in is one read (the use is written again only once a minute), on top of what the same
/// request costs with a bearer token.
#[tokio::test]
async fn a_card_read_with_an_app_password_adds_one_read_to_the_bearer_one() {
    let app = counted_app().await;
    let ada = app.user("ada").await;
    let secret = app_password(&app, &ada).await;
    let grace = app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.org")).await;
    let card = format!("/dav/addressbooks/ada/contacts/{}.vcf", grace["uid"].as_str().unwrap());
    let (app, card) = (&app, card.as_str());

    let bearer =
        statements_of(app, "GET card, bearer", || app.request(Method::GET, card).bearer_auth(&ada.token)).await;
    let basic = || app.request(Method::GET, card).basic_auth("ada", Some(&secret));
    let with_password = statements_of(app, "GET card, app password", basic).await;
    assert_eq!(with_password, bearer + 1, "the sign-in is one read, no write");
    let writes = sent_since(app, 0).into_iter().filter(|(sql, _)| sql.starts_with("UPDATE \"app_passwords\"")).count();
    assert_eq!(writes, 1, "only the first use is written");
}

/// A phone's most frequent request, a sync-collection from a recent token: one statement reads
/// the book's numbers, its changes and their cards together, in one snapshot, with no lookup of
/// the book before it and no transaction around several reads.
#[tokio::test]
async fn a_sync_collection_with_a_warm_cache_makes_one_database_round_trip() {
    let app = counted_app().await;
    let ada = app.user("ada").await;
    app.create_contact(&ada, &contact("Grace", "Hopper", "grace@example.org")).await;
    let book = "/dav/addressbooks/ada/contacts/";
    let sync = |token: &str| {
        app.request(Method::from_bytes(b"REPORT").unwrap(), book)
            .bearer_auth(&ada.token)
            .body(SYNC.replace("TOKEN", token))
    };
    let token = token_of(&sync("").send().await.unwrap().text().await.unwrap());
    app.create_contact(&ada, &contact("Alan", "Turing", "alan@example.org")).await;

    assert_eq!(statements_of(&app, "sync-collection", || sync(&token)).await, 1);
}
