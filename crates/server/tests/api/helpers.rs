//! `spawn_app` and one helper per request, so tests read like the API's use.

use contacts_api::{Application, Settings};
use contacts_test_support::{MailCatcher, TestDatabase};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

pub const JWT_SECRET: &str = "test-secret-0123456789abcdef-0123456789";
pub const BASE_URL: &str = "http://contacts.test";
pub const PASSWORD: &str = "correct horse battery";

/// A running app with its database and mailbox.
pub struct TestApp {
    pub address: String,
    pub db: TestDatabase,
    pub mail: MailCatcher,
    pub client: reqwest::Client,
    pub settings: Settings,
    /// Base URL of the metrics listener, when `METRICS_ADDR` was set.
    pub metrics: Option<String>,
    pub avatar_dir: std::path::PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.avatar_dir);
    }
}

/// A registered, confirmed and logged-in user.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: i64,
    pub token: String,
}

/// Starts the app as production does, with test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the app with some variables overridden (or set to "" to unset them).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_on(TestDatabase::create().await, overrides).await
}

/// Starts the app on `db` (a database of a private server, say) with some variables overridden.
pub async fn spawn_app_on(db: TestDatabase, overrides: &[(&str, &str)]) -> TestApp {
    spawn_app_tuned(db, overrides, |_| {}).await
}

/// [`spawn_app_on`], with a last change to settings no variable reaches (shorter timeouts).
pub async fn spawn_app_tuned(
    db: TestDatabase,
    overrides: &[(&str, &str)],
    tune: impl FnOnce(&mut Settings),
) -> TestApp {
    capture_logs();
    let mail = MailCatcher::start().await;
    let mail_port = mail.port().to_string();
    // Avatars go to a folder of this app's own, removed with it, never into the source tree.
    let avatar_dir = std::env::temp_dir().join(format!("contacts-avatars-{}", contacts_test_support::random_hex(6)));
    let mut vars = vec![
        ("DATABASE_URL", db.url().to_owned()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("APP_BASE_URL", BASE_URL.to_owned()),
        ("HOST", "127.0.0.1".to_owned()),
        ("PORT", "0".to_owned()),
        ("BCRYPT_COST", "4".to_owned()),
        ("SMTP_HOST", "127.0.0.1".to_owned()),
        ("SMTP_PORT", mail_port),
        ("SMTP_TLS", "none".to_owned()),
        ("MAIL_FROM", "Contacts <noreply@contacts.test>".to_owned()),
        ("AVATAR_DIR", avatar_dir.display().to_string()),
        // Tests mail one address several times in a row; the flood guard's own tests set it.
        ("MAIL_COOLDOWN_SECONDS", "0".to_owned()),
        // Reminder passes run when a test asks; a scan would mail the contacts' birthdays on
        // whatever day the suite runs. The reminder tests set it.
        ("REMINDER_SCAN_SECONDS", "0".to_owned()),
    ];
    for (key, value) in overrides {
        vars.retain(|(k, _)| k != key);
        vars.push((key, (*value).to_owned()));
    }
    let mut settings = Settings::from_source(&|key: &str| vars.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone()))
        .expect("valid test settings");
    tune(&mut settings);
    let (address, metrics) = start_with_metrics(settings.clone()).await;
    // Test databases share one Redis: ids that differ between them keep their cache keys and
    // rate-limit counters apart.
    let first_id = u64::from_str_radix(&contacts_test_support::random_hex(5), 16).unwrap() + 1;
    db.execute(&format!("ALTER TABLE users ALTER COLUMN id RESTART WITH {first_id}")).await;
    // Idle connections are let go well before the server's keep-alive (actix's 5 s) closes them:
    // a POST sent on a connection the server is closing at that instant fails, and is not
    // retried (seen after a browser test's seconds of idling).
    let client = contacts_test_support::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap();
    TestApp { address, db, mail, client, settings, metrics, avatar_dir }
}

/// Sends the server's warnings and errors (the cause of a `503`, say) to the test's captured
/// output, which the harness prints for a failing test only: a test that fails once on a loaded
/// machine then says why. `TEST_LOG=1` prints every log line of every test instead.
fn capture_logs() {
    if std::env::var("TEST_LOG").is_ok() {
        contacts_api::telemetry::init();
        return;
    }
    // The first call installs it; an instance's worker threads inherit the capture of the test
    // that started them, so each failing test shows its own instances' lines.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_target(false)
        .with_ansi(false)
        .with_test_writer()
        .try_init();
}

/// Builds and starts an instance; returns its base URL.
async fn start(settings: Settings) -> String {
    start_with_metrics(settings).await.0
}

/// Builds and starts an instance; returns its base URL and that of its metrics listener.
async fn start_with_metrics(settings: Settings) -> (String, Option<String>) {
    let app = Application::build(settings).await.expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let metrics = app.metrics_port().map(|port| format!("http://127.0.0.1:{port}"));
    tokio::spawn(app.run_until_stopped());
    (address, metrics)
}

impl TestApp {
    /// Another instance of the same service (same database, same settings), as behind a load
    /// balancer; returns a client view of it sharing this app's database and mailbox.
    pub async fn second_instance(&self) -> String {
        start(self.settings.clone()).await
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{}", self.address, path))
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.request(Method::GET, path);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn send_json(&self, method: Method, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut request = self.request(method, path).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send_json(Method::POST, path, None, body).await
    }

    pub async fn register(&self, username: &str, email: &str, password: &str) -> Response {
        self.post_json("/api/auth/register", &json!({"username": username, "email": email, "password": password})).await
    }

    pub async fn login_form(&self, username: &str, password: &str) -> Response {
        self.request(Method::POST, "/api/auth/login")
            .form(&[("grant_type", "password"), ("username", username), ("password", password)])
            .send()
            .await
            .expect("request sent")
    }

    /// The path of the confirmation link in the latest mail to `email`.
    pub async fn confirmation_path(&self, email: &str) -> String {
        let mail = self.mail.wait_for(email).await;
        let prefix = format!("{BASE_URL}/api/auth/confirmed_email/");
        let link = mail.line_starting_with(&prefix).expect("a confirmation link on a line of its own");
        link.strip_prefix(BASE_URL).unwrap().to_owned()
    }

    /// Registers, confirms from the mail and logs in.
    pub async fn user(&self, username: &str) -> TestUser {
        let email = format!("{username}@example.org");
        let registered = self.register(username, &email, PASSWORD).await;
        assert_eq!(registered.status(), StatusCode::CREATED);
        let id = body(registered).await["id"].as_i64().unwrap();
        let confirmed = self.get(&self.confirmation_path(&email).await, None).await;
        assert_eq!(confirmed.status(), StatusCode::OK);
        let tokens = body(self.login_form(username, PASSWORD).await).await;
        TestUser { id, token: tokens["access_token"].as_str().unwrap().to_owned() }
    }

    pub async fn create_contact(&self, user: &TestUser, contact: &Value) -> Value {
        let response = self.send_json(Method::POST, "/api/contacts/", Some(&user.token), contact).await;
        assert_eq!(response.status(), StatusCode::CREATED, "creating {contact}");
        body(response).await
    }

    /// A vCard import of `body`, sent as `content_type`, by `user`: the answer, whatever it is.
    pub async fn import(&self, user: &TestUser, content_type: &str, body: String) -> Response {
        self.request(Method::POST, "/api/contacts/import")
            .bearer_auth(&user.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent")
    }
}

/// A sync-collection REPORT body asking for the changes since `TOKEN` (replace it; empty for
/// an initial sync), with their ETags.
pub const SYNC: &str = r#"<?xml version="1.0"?><d:sync-collection xmlns:d="DAV:"><d:sync-token>TOKEN</d:sync-token>
<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"#;

/// The `sync-token` of a sync-collection answer.
pub fn token_of(body: &str) -> String {
    element_text(body, "sync-token").expect("a sync token").to_owned()
}

/// Where a browser posts the first form of `html`, a page read at `page` (a path and query on
/// this server), as a path and query. The page must also work when a proxy serves the app under
/// a prefix (`APP_BASE_URL` with a path): the action is resolved under `/prefix` too, and must
/// stay under it.
pub fn form_target(page: &str, html: &str) -> String {
    let action = html.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a form action");
    let action = action.replace("&amp;", "&");
    let resolve = |base: &str| reqwest::Url::parse(base).and_then(|page| page.join(&action)).expect("a URL");
    let prefixed = resolve(&format!("http://proxy.example/prefix{page}"));
    assert!(prefixed.path().starts_with("/prefix/"), "{action} leaves a prefixed app: {prefixed}");
    let target = resolve(&format!("http://proxy.example{page}"));
    format!("{}{}", target.path(), target.query().map(|q| format!("?{q}")).unwrap_or_default())
}

/// The text of the first element of a DAV answer with this local name (any prefix), if any.
pub fn element_text<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("{name}>");
    let start = body.find(&open)? + open.len();
    Some(&body[start..start + body[start..].find('<')?])
}

/// A new app password of `user` (its secret), made through REST as a phone's owner would.
pub async fn app_password(app: &TestApp, user: &TestUser) -> String {
    let made =
        app.send_json(Method::POST, "/api/users/me/app-passwords", Some(&user.token), &json!({"name": "phone"})).await;
    let made = expect(made, StatusCode::CREATED).await;
    made["password"].as_str().unwrap().to_owned()
}

/// A fresh app with the confirmed user `name` and an app password of theirs: where most
/// CardDAV tests start.
pub async fn app_with_dav_user(name: &str) -> (TestApp, TestUser, String) {
    let app = spawn_app().await;
    let user = app.user(name).await;
    let secret = app_password(&app, &user).await;
    (app, user, secret)
}

/// A body sent without `Content-Length` (chunked transfer), `total` bytes: `head`, then `fill`
/// bytes in chunks of 8 KiB made as they are sent, then `tail`. A server that stops reading
/// early never gets the rest.
pub fn chunked_body(head: &[u8], fill: u8, tail: &[u8], total: usize) -> reqwest::Body {
    const CHUNK: usize = 8 * 1024;
    let padding = total.checked_sub(head.len() + tail.len()).expect("room for head and tail");
    let fills = (0..padding.div_ceil(CHUNK)).map(move |i| vec![fill; CHUNK.min(padding - i * CHUNK)]);
    let chunks = std::iter::once(head.to_vec()).chain(fills).chain(std::iter::once(tail.to_vec()));
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks.map(Ok::<_, std::io::Error>)))
}

/// The head (lowercased) of the POST that `with_body` makes (it adds a body to a request), caught
/// by a bare listener: to check that a streamed body goes out without `Content-Length`.
pub async fn request_head(with_body: impl FnOnce(RequestBuilder) -> RequestBuilder) -> String {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    // No answer ever comes; the request is dropped once the head has been read.
    let sending = with_body(contacts_test_support::http_client().build().unwrap().post(url)).send();
    let sending = tokio::spawn(sending);
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut buf = [0u8; 1024];
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection ended inside the head");
        head.extend_from_slice(&buf[..n]);
    }
    sending.abort();
    String::from_utf8_lossy(&head).to_lowercase()
}

/// A valid contact body with the given email.
pub fn contact(first: &str, last: &str, email: &str) -> Value {
    json!({
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": "+1 (555) 010-2030",
        "birthday": "1990-05-17",
        "additional_info": "met at a conference",
    })
}

pub async fn body(response: Response) -> Value {
    let status = response.status();
    let text = response.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("status {status}: not JSON ({e}): {text:?}"))
}

/// Asserts a status and returns the JSON body.
pub async fn expect(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let body = body(response).await;
    assert_eq!(actual, status, "body: {body}");
    body
}

/// Asserts a `422` whose detail names `loc` (for example `["body", "email"]`).
pub async fn expect_invalid(response: Response, loc: &[&str]) {
    let body = expect(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    let locs: Vec<Value> =
        body["detail"].as_array().expect("a list of problems").iter().map(|d| d["loc"].clone()).collect();
    assert!(locs.contains(&json!(loc)), "{loc:?} not among {locs:?}");
    for problem in body["detail"].as_array().unwrap() {
        assert!(problem["msg"].is_string() && problem["type"].is_string(), "{problem}");
    }
}

/// Asserts the contract's `401` for a bad or missing token.
pub async fn expect_unauthenticated(response: Response) {
    assert_eq!(response.headers().get("www-authenticate").map(|v| v.to_str().unwrap()), Some("Bearer"));
    let body = expect(response, StatusCode::UNAUTHORIZED).await;
    assert_eq!(body, json!({"detail": "Could not validate credentials"}));
}

/// The `contacts-api` binary serving on a port of its own against this app's database, as an
/// operator would start it; output captured. Returns once `/healthz` answers.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub base: String,
    /// The process's working directory, empty: no `.env` of the checkout reaches it.
    pub cwd: ScratchDir,
}

impl TestApp {
    pub async fn serve_binary(&self, extra: &[(&str, &str)]) -> ServerProcess {
        let port = contacts_test_support::unused_port().to_string();
        let avatars = self.avatar_dir.display().to_string();
        let cwd = ScratchDir::create();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_contacts-api"))
            .arg("serve")
            .current_dir(cwd.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(std::env::var("LLVM_PROFILE_FILE").ok().map(|p| ("LLVM_PROFILE_FILE", p)))
            .envs([
                ("DATABASE_URL", self.db.url()),
                ("JWT_SECRET", JWT_SECRET),
                ("HOST", "127.0.0.1"),
                ("PORT", port.as_str()),
                ("AVATAR_DIR", avatars.as_str()),
            ])
            .envs(extra.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the server starts");
        let base = format!("http://127.0.0.1:{port}");
        let started = std::time::Instant::now();
        while self.client.get(format!("{base}/healthz")).send().await.is_err() {
            assert!(started.elapsed() < std::time::Duration::from_secs(30), "the server came up");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        ServerProcess { child, base, cwd }
    }
}

impl ServerProcess {
    /// Stops the server as an orchestrator would (SIGTERM), waits for it to exit and returns
    /// everything it wrote: its standard output, then its standard error.
    pub async fn stop_and_read_output(self) -> String {
        let Self { mut child, cwd, .. } = self;
        let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(killed.success(), "the server got the signal");
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            child.wait().unwrap();
            let mut all = String::new();
            child.stdout.take().unwrap().read_to_string(&mut all).unwrap();
            child.stderr.take().unwrap().read_to_string(&mut all).unwrap();
            drop(cwd);
            all
        })
        .await
        .unwrap()
    }
}

/// An empty folder under the system's temporary folder, removed when dropped.
pub struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    pub fn create() -> Self {
        let path = std::env::temp_dir().join(format!("contacts-cwd-{}", contacts_test_support::random_hex(8)));
        std::fs::create_dir_all(&path).expect("a scratch folder");
        Self(path)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
