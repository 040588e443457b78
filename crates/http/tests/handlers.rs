//! Handlers against mocked use cases: the HTTP side of each error family (status, body,
//! headers, logging), without a database. A mock without expectations refuses every call, so
//! these tests also prove which use cases a request reaches.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use chrono::{NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};

use contacts_domain::auth::{ConfirmationOutcome, MockAuthUseCases};
use contacts_domain::contact::{BirthdayStamp, Birthdays, BookStamp, Contact, ContactId, Listed, MockContactUseCases};
use contacts_domain::health::MockHealthCheck;
use contacts_domain::reminders::MockReminderUseCases;
use contacts_domain::throttle::{LoginThrottle, MockFailureCounter, ThrottleSettings};
use contacts_domain::user::{MockProfileUseCases, Role, User, UserId};
use contacts_domain::{Conflict, EmailAddress, Error, FieldError, Rule};
use contacts_http::{AppState, CONFIRM_EMAIL_PATH, CardWork, KeptAnswers, LongPages, TrustedProxies};

const TOKEN: &str = "a-valid-access-token";

fn ada() -> User {
    User {
        id: UserId(7),
        username: "ada".into(),
        email: EmailAddress::from_trusted("ada@example.org".into()),
        avatar: None,
        role: Role::User,
        confirmed: true,
        created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        token_version: 0,
        ended_sessions: Vec::new(),
    }
}

/// Mocks to set expectations on; whatever is not expected is refused.
struct Mocks {
    auth: MockAuthUseCases,
    contacts: MockContactUseCases,
    profiles: MockProfileUseCases,
    health: MockHealthCheck,
    reminders: MockReminderUseCases,
    long_pages: LongPages,
}

impl Default for Mocks {
    fn default() -> Self {
        Self {
            auth: MockAuthUseCases::default(),
            contacts: MockContactUseCases::default(),
            profiles: MockProfileUseCases::default(),
            health: MockHealthCheck::default(),
            reminders: MockReminderUseCases::default(),
            long_pages: LongPages::new(1, std::time::Duration::from_secs(5)),
        }
    }
}

impl Mocks {
    /// `TOKEN` authenticates as Ada.
    fn signed_in() -> Self {
        let mut mocks = Self::default();
        mocks.auth.expect_authenticate().withf(|token| token == TOKEN).returning(|_| Ok(ada()));
        mocks
    }

    fn state(self) -> web::Data<AppState> {
        logs();
        web::Data::new(AppState {
            auth: Arc::new(self.auth),
            contacts: Arc::new(self.contacts),
            profiles: Arc::new(self.profiles),
            health: Arc::new(self.health),
            reminders: Arc::new(self.reminders),
            max_avatar_bytes: 1024,
            max_import_bytes: 1024,
            // No handler test logs in: a counter without expectations refuses every call.
            login_throttle: Arc::new(LoginThrottle::new(
                MockFailureCounter::new(),
                ThrottleSettings { max_failures: 5, max_failures_per_ip: 100, window_seconds: 900 },
            )),
            trusted_proxies: TrustedProxies::default(),
            card_work: CardWork::new(1),
            kept: Arc::new(KeptAnswers::new(1 << 20)),
            long_pages: self.long_pages.clone(),
        })
    }
}

/// Sends `request` to the whole API over `mocks`; returns the status, headers and JSON body.
async fn call(mocks: Mocks, request: test::TestRequest) -> (StatusCode, actix_web::http::header::HeaderMap, Value) {
    let app = test::init_service(App::new().configure(contacts_http::configure(mocks.state()))).await;
    let response = test::call_service(&app, request.to_request()).await;
    let (status, headers) = (response.status(), response.headers().clone());
    let body = test::read_body(response).await;
    (status, headers, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn bearer(request: test::TestRequest) -> test::TestRequest {
    request.insert_header(("Authorization", format!("Bearer {TOKEN}")))
}

#[actix_web::test]
async fn validation_problems_are_422_located_in_the_part_the_handler_read() {
    let mut mocks = Mocks::signed_in();
    mocks.contacts.expect_create().times(1).returning(|_, _| {
        Err(Error::Invalid(vec![
            FieldError::missing("phone"),
            FieldError::new("limit", Rule::Range { min: 1, max: None }),
        ]))
    });
    let create = bearer(test::TestRequest::post().uri("/api/contacts/").set_json(json!({})));
    let (status, _, body) = call(mocks, create).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"detail": [
            {"loc": ["body", "phone"], "msg": "Field required", "type": "missing"},
            {"loc": ["body", "limit"], "msg": "Input should be greater than or equal to 1", "type": "greater_than_equal"},
        ]})
    );

    let mut mocks = Mocks::signed_in();
    mocks
        .contacts
        .expect_list_since()
        .times(1)
        .returning(|_, _, _| Err(Error::invalid(FieldError::new("limit", Rule::Range { min: 1, max: Some(1000) }))));
    let (status, _, body) = call(mocks, bearer(test::TestRequest::get().uri("/api/contacts/?limit=0"))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body,
        json!({"detail": [{"loc": ["query", "limit"], "msg": "Input should be between 1 and 1000", "type": "range"}]})
    );
}

fn grace() -> Contact {
    let at = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
    Contact {
        id: ContactId(3),
        uid: "grace".into(),
        first_name: "Grace".into(),
        last_name: "Hopper".into(),
        email: Some("grace@example.org".into()),
        phone: Some("+1 555 0100".into()),
        birthday: None,
        birthday_md: None,
        additional_info: None,
        emails: Vec::new(),
        phones: Vec::new(),
        created_at: at,
        updated_at: at,
    }
}

#[actix_web::test]
async fn a_list_page_asked_again_is_answered_from_its_copy_while_the_book_says_unchanged() {
    let mut mocks = Mocks::signed_in();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let asked = seen.clone();
    let mut answers = vec![
        Listed::Read { contacts: vec![grace()], total: 9, stamp: Some(BookStamp(41)) },
        Listed::Unchanged,
        Listed::Read { contacts: Vec::new(), total: 8, stamp: Some(BookStamp(42)) },
        Listed::Unchanged,
    ]
    .into_iter();
    mocks.contacts.expect_list_since().times(4).returning(move |owner, query, stamp| {
        asked.lock().unwrap().push((owner, query.skip, query.limit, stamp));
        Ok(answers.next().unwrap())
    });
    let app = test::init_service(App::new().configure(contacts_http::configure(mocks.state()))).await;
    let get = async |uri: &str| {
        let response = test::call_service(&app, bearer(test::TestRequest::get().uri(uri)).to_request()).await;
        let total = response.headers().get("X-Total-Count").map(|v| v.to_str().unwrap().to_owned());
        let kind = response.headers().get("Content-Type").map(|v| v.to_str().unwrap().to_owned());
        (response.status(), total, kind, test::read_body(response).await)
    };

    let first = get("/api/contacts/?limit=20").await;
    let again = get("/api/contacts/?limit=20").await;
    assert_eq!(first.0, StatusCode::OK);
    assert_eq!(first.1.as_deref(), Some("9"));
    assert_eq!(first.2.as_deref(), Some("application/json"));
    assert_eq!(serde_json::from_slice::<Value>(&first.3).unwrap()[0]["first_name"], "Grace");
    assert_eq!(again, first, "the copy, byte for byte, with its total");

    // The book changed: the new page replaces the copy, and is what the next request gets.
    let changed = get("/api/contacts/?limit=20").await;
    let after = get("/api/contacts/?limit=20").await;
    assert_eq!((changed.1.as_deref(), &changed.3[..]), (Some("8"), &b"[]"[..]));
    assert_eq!(after, changed);

    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (UserId(7), 0, 20, None),
            (UserId(7), 0, 20, Some(BookStamp(41))),
            (UserId(7), 0, 20, Some(BookStamp(41))),
            (UserId(7), 0, 20, Some(BookStamp(42))),
        ],
        "each page's own copy's stamp is sent"
    );
}

/// A page longer than the default is read only in its turn (the bound on long pages read at
/// once, here one), and a page of the default length needs none.
#[actix_web::test]
async fn a_long_page_is_read_in_its_turn_and_a_short_one_needs_none() {
    let mut mocks = Mocks::signed_in();
    let limits = Arc::new(Mutex::new(Vec::new()));
    let asked = limits.clone();
    mocks.contacts.expect_list_since().times(2).returning(move |_, query, _| {
        asked.lock().unwrap().push(query.limit);
        Ok(Listed::Read { contacts: Vec::new(), total: 0, stamp: None })
    });
    let long_pages = mocks.long_pages.clone();
    let app = test::init_service(App::new().configure(contacts_http::configure(mocks.state()))).await;
    let page = |limit: u32| bearer(test::TestRequest::get().uri(&format!("/api/contacts/?limit={limit}"))).to_request();

    let turn = long_pages.turn().await.unwrap();
    assert_eq!(test::call_service(&app, page(100)).await.status(), StatusCode::OK);
    let waited = tokio::time::timeout(std::time::Duration::from_millis(200), test::call_service(&app, page(101))).await;
    assert!(waited.is_err(), "a long page was read while the only turn was taken");
    drop(turn);
    assert_eq!(test::call_service(&app, page(101)).await.status(), StatusCode::OK);
    assert_eq!(*limits.lock().unwrap(), vec![100, 101], "the page that waited was never read");
}

/// A long limit on a small book: its page (fewer than 100 contacts) is kept, and asked again it
/// is answered from the copy at once, even while every turn is taken. A search with the same
/// limit, which no copy answers, still waits for its turn.
#[actix_web::test]
async fn a_kept_page_asked_for_with_a_long_limit_needs_no_turn_but_a_search_does() {
    let mut mocks = Mocks::signed_in();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let asked = seen.clone();
    let mut answers =
        vec![Listed::Read { contacts: vec![grace()], total: 1, stamp: Some(BookStamp(41)) }, Listed::Unchanged]
            .into_iter();
    mocks.contacts.expect_list_since().times(2).returning(move |_, query, stamp| {
        asked.lock().unwrap().push((query.limit, stamp));
        Ok(answers.next().unwrap())
    });
    let long_pages = mocks.long_pages.clone();
    let app = test::init_service(App::new().configure(contacts_http::configure(mocks.state()))).await;
    let get = |uri: &str| bearer(test::TestRequest::get().uri(uri)).to_request();

    let first = test::call_service(&app, get("/api/contacts/?limit=1000")).await;
    assert_eq!(first.status(), StatusCode::OK);
    let first = test::read_body(first).await;
    let _turn = long_pages.turn().await.unwrap();
    let second = std::time::Duration::from_secs(1);
    let again = tokio::time::timeout(second, test::call_service(&app, get("/api/contacts/?limit=1000"))).await;
    let again = again.expect("a page with a kept copy waited for a turn");
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(test::read_body(again).await, first, "the kept copy");
    let search = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        test::call_service(&app, get("/api/contacts/?limit=1000&q=gr")),
    )
    .await;
    assert!(search.is_err(), "a long search page was read while the only turn was taken");
    assert_eq!(*seen.lock().unwrap(), vec![(1000, None), (1000, Some(BookStamp(41)))]);
}

/// A malformed long page is refused at once with its 422, even while every turn is taken: it
/// never waits for a turn (and never becomes a 503 by waiting too long).
#[actix_web::test]
async fn a_malformed_long_page_is_refused_without_waiting_for_a_turn() {
    let mocks = Mocks::signed_in();
    let long_pages = mocks.long_pages.clone();
    let _turn = long_pages.turn().await.unwrap();
    let request = bearer(test::TestRequest::get().uri("/api/contacts/?limit=1001"));
    let answered = tokio::time::timeout(std::time::Duration::from_secs(1), call(mocks, request)).await;
    let (status, _, body) = answered.expect("a malformed page waited for a turn");
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["detail"][0]["loc"], json!(["query", "limit"]));
}

/// A long page that waits for its turn longer than the bound is told to come back later, as a
/// request that waits too long for a database connection is: it does not hang.
#[actix_web::test]
async fn a_long_page_that_waits_too_long_for_its_turn_is_a_503() {
    let mut mocks = Mocks::signed_in();
    mocks.long_pages = LongPages::new(1, std::time::Duration::from_millis(50));
    let long_pages = mocks.long_pages.clone();
    let _turn = long_pages.turn().await.unwrap();
    let request = bearer(test::TestRequest::get().uri("/api/contacts/?limit=1000"));
    let (status, _, body) = call(mocks, request).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"detail": "Service temporarily unavailable, try again shortly"}));
}

#[actix_web::test]
async fn a_birthday_list_asked_again_is_answered_from_its_copy_while_the_day_and_book_say_unchanged() {
    let mut mocks = Mocks::signed_in();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let asked = seen.clone();
    let on = |day: u32, book: i64| BirthdayStamp {
        book: BookStamp(book),
        today: NaiveDate::from_ymd_opt(2025, 6, day).unwrap(),
    };
    let mut answers = vec![
        Birthdays::Read { first: vec![grace()], rest: None, stamp: Some(on(15, 41)) },
        Birthdays::Unchanged,
        Birthdays::Read { first: Vec::new(), rest: None, stamp: Some(on(15, 41)) },
        Birthdays::Read { first: Vec::new(), rest: None, stamp: Some(on(16, 41)) },
    ]
    .into_iter();
    mocks.contacts.expect_upcoming_birthdays().times(4).returning(move |owner, days, stamp| {
        asked.lock().unwrap().push((owner, days, stamp));
        Ok(answers.next().unwrap())
    });
    let app = test::init_service(App::new().configure(contacts_http::configure(mocks.state()))).await;
    let get = async |uri: &str| {
        let response = test::call_service(&app, bearer(test::TestRequest::get().uri(uri)).to_request()).await;
        let kind = response.headers().get("Content-Type").map(|v| v.to_str().unwrap().to_owned());
        let total = response.headers().get("X-Total-Count").cloned();
        (response.status(), kind, total, test::read_body(response).await)
    };

    let first = get("/api/contacts/birthdays").await;
    let again = get("/api/contacts/birthdays").await;
    assert_eq!((first.0, first.1.as_deref(), &first.2), (StatusCode::OK, Some("application/json"), &None));
    assert_eq!(serde_json::from_slice::<Value>(&first.3).unwrap()[0]["first_name"], "Grace");
    assert_eq!(again, first, "the copy, byte for byte");
    // Another window is another list; the next day's list replaces the copy.
    assert_eq!(&get("/api/contacts/birthdays?days=30").await.3[..], b"[]");
    assert_eq!(&get("/api/contacts/birthdays?days=7").await.3[..], b"[]");

    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            (UserId(7), 7, None),
            (UserId(7), 7, Some(on(15, 41))),
            (UserId(7), 30, None),
            (UserId(7), 7, Some(on(15, 41)))
        ],
        "each list's own copy's stamp is sent"
    );
}

#[actix_web::test]
async fn an_unchanged_birthday_list_without_a_copy_is_a_500_not_an_empty_list() {
    let mut mocks = Mocks::signed_in();
    mocks.contacts.expect_upcoming_birthdays().times(1).returning(|_, _, _| Ok(Birthdays::Unchanged));
    let (status, _, _) = call(mocks, bearer(test::TestRequest::get().uri("/api/contacts/birthdays"))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_web::test]
async fn unchanged_without_a_copy_is_a_500_not_an_empty_page() {
    let mut mocks = Mocks::signed_in();
    mocks.contacts.expect_list_since().times(1).returning(|_, _, _| Ok(Listed::Unchanged));
    let (status, _, _) = call(mocks, bearer(test::TestRequest::get().uri("/api/contacts/"))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[actix_web::test]
async fn a_missing_contact_is_404_with_its_detail() {
    let mut mocks = Mocks::signed_in();
    mocks
        .contacts
        .expect_get()
        .withf(|owner, id| *owner == UserId(7) && *id == ContactId(42))
        .times(1)
        .returning(|_, _| Err(Error::NotFound("Contact not found")));
    let (status, _, body) = call(mocks, bearer(test::TestRequest::get().uri("/api/contacts/42"))).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"detail": "Contact not found"})));
}

#[actix_web::test]
async fn every_conflict_is_409_with_its_own_detail() {
    let cases = [
        (Conflict::UsernameTaken, "An account with this username already exists"),
        (Conflict::EmailTaken, "An account with this email already exists"),
    ];
    for (conflict, detail) in cases {
        let mut mocks = Mocks::default();
        mocks.auth.expect_register().times(1).returning(move |_| Err(Error::Conflict(conflict)));
        let request = test::TestRequest::post().uri("/api/auth/register").set_json(json!({"username": "ada"}));
        let (status, _, body) = call(mocks, request).await;
        assert_eq!((status, body), (StatusCode::CONFLICT, json!({"detail": detail})), "{conflict:?}");
    }
    let mut mocks = Mocks::signed_in();
    mocks.contacts.expect_replace().times(1).returning(|_, _, _| Err(Error::Conflict(Conflict::ContactEmailTaken)));
    let request = bearer(test::TestRequest::put().uri("/api/contacts/1").set_json(json!({})));
    let (status, _, body) = call(mocks, request).await;
    assert_eq!((status, body), (StatusCode::CONFLICT, json!({"detail": "A contact with this email already exists"})));
}

#[actix_web::test]
async fn a_request_without_a_token_is_401_and_reaches_no_use_case() {
    let (status, headers, body) = call(Mocks::default(), test::TestRequest::get().uri("/api/users/me")).await;
    assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!({"detail": "Could not validate credentials"})));
    assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
}

#[actix_web::test]
async fn an_unavailable_database_is_503_with_a_retry_hint() {
    let mut mocks = Mocks::default();
    mocks.health.expect_database().times(1).returning(|| Err(Error::Unavailable("connection refused".into())));
    let (status, _, body) = call(mocks, test::TestRequest::get().uri("/api/healthchecker")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, json!({"detail": "Service temporarily unavailable, try again shortly"}));
}

/// Log lines written by the tests of this binary.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

/// Everything the tests of this binary log, from one subscriber installed before any test
/// reaches a handler ([`Mocks::state`]). A subscriber set for one test (`set_default`) raced with
/// tests on other threads reaching the same log statement first: it could stay switched off for
/// that statement, and the log came back empty in about one run in three.
fn logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || writer.clone()).with_ansi(false).finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber in this binary");
        captured
    })
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[actix_web::test]
async fn an_unexpected_error_is_500_without_details_and_logged_with_its_cause_chain() {
    let mut mocks = Mocks::signed_in();
    mocks
        .profiles
        .expect_profile()
        .times(1)
        .returning(|_| Err(Error::unexpected(Wrapped(std::io::Error::other("disk on fire")))));
    let (status, _, body) = call(mocks, bearer(test::TestRequest::get().uri("/api/users/me"))).await;
    assert_eq!((status, body), (StatusCode::INTERNAL_SERVER_ERROR, json!({"detail": "Internal server error"})));
    let log = String::from_utf8(logs().0.lock().unwrap().clone()).unwrap();
    assert!(log.contains("unexpected error: reading the profile: disk on fire"), "{log}");
}

/// An error with a cause, as adapters produce them.
#[derive(Debug)]
struct Wrapped(std::io::Error);

impl std::fmt::Display for Wrapped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reading the profile")
    }
}

impl std::error::Error for Wrapped {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[actix_web::test]
async fn the_confirmation_link_path_reaches_its_handler() {
    let mut mocks = Mocks::default();
    mocks
        .auth
        .expect_confirm_email()
        .withf(|token| token == "abc")
        .times(1)
        .returning(|_| Ok(ConfirmationOutcome::Confirmed));
    let uri = CONFIRM_EMAIL_PATH.replace("{token}", "abc");
    let (status, _, body) = call(mocks, test::TestRequest::get().uri(&uri)).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"message": "Email confirmed"})));
}

#[actix_web::test]
async fn the_docs_validate_nothing_elsewhere() {
    let app = test::init_service(App::new().configure(contacts_http::configure(Mocks::default().state()))).await;
    let response =
        test::call_service(&app, test::TestRequest::get().uri("/docs/swagger-initializer.js").to_request()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let init = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(init.contains("/openapi.json"), "{init}");
    // Swagger UI's default validator is validator.swagger.io, shown as a badge it loads from there.
    assert!(init.contains(r#""validatorUrl": "none""#), "{init}");
}
