//! [`Browser`]: headless Chromium driven through ChromeDriver's WebDriver protocol, for tests
//! of pages a person uses (the password-reset form).

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The W3C WebDriver key under which an element reference comes back.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A running ChromeDriver with one headless Chromium session. [`Browser::quit`] ends both the
/// way WebDriver means it; dropping it (a test that panicked) kills them, Chromium included.
#[derive(Debug)]
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    client: reqwest::Client,
    profile: std::path::PathBuf,
}

/// Where Debian's packages put the browser and its driver.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

impl Browser {
    /// Whether Chromium and ChromeDriver are installed (`apt-get install chromium chromium-driver`).
    fn available() -> bool {
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists()
    }

    /// Whether a browser test must skip here: Chromium or its driver is missing. CI must have
    /// them (the test fails there instead); elsewhere it says why the test did nothing.
    pub fn missing_here() -> bool {
        if Self::available() {
            return false;
        }
        assert!(std::env::var("CI").is_err(), "CI must have chromium and chromium-driver installed");
        eprintln!("skipped: install chromium and chromium-driver to run the browser tests");
        true
    }

    /// Starts ChromeDriver on a free port and opens a headless session.
    pub async fn start() -> Self {
        let port = crate::unused_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            // A process group of its own, which the Chromium it starts joins: killing the group
            // leaves no browser behind, where killing the driver alone orphaned it.
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let client = crate::http_client().build().expect("an HTTP client");
        for _ in 0..100 {
            if client.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = std::env::temp_dir().join(format!("contacts-chromium-{}", crate::random_hex(6)));
        // The flags keep a headless Chromium from reaching out to the network at start.
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let mut browser = Self { driver, base, session: String::new(), client, profile };
        let created = browser.call(reqwest::Method::POST, "/session", Some(capabilities)).await;
        browser.session = created["sessionId"].as_str().expect("a session id").to_owned();
        browser
    }

    /// Ends the session (ChromeDriver closes Chromium and its helpers), then the driver.
    pub async fn quit(self) {
        self.call(reqwest::Method::DELETE, &self.session_path(""), None).await;
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.base, path);
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response: Value = request.send().await.expect("chromedriver answers").json().await.expect("JSON");
        let value = response["value"].clone();
        if let Some(error) = value.get("error") {
            panic!("WebDriver {path}: {error}: {}", value["message"]);
        }
        value
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, &self.session_path("/url"), Some(json!({"url": url}))).await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                &self.session_path("/element"),
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT].as_str().expect("an element").to_owned()
    }

    /// Types `text` into the element matching `css`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        let path = self.session_path(&format!("/element/{element}/value"));
        self.call(reqwest::Method::POST, &path, Some(json!({"text": text}))).await;
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &self.session_path(&format!("/element/{element}/click")), Some(json!({})))
            .await;
    }

    /// The current page's HTML.
    pub async fn source(&self) -> String {
        self.call(reqwest::Method::GET, &self.session_path("/source"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits up to ten seconds for the page to contain `text`, and returns the page.
    pub async fn wait_for_text(&self, text: &str) -> String {
        let mut page = String::new();
        for _ in 0..100 {
            page = self.source().await;
            if page.contains(text) {
                return page;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{text:?} did not appear; the page is:\n{page}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // After `quit` only the driver is left in the group; after a panic, Chromium too.
        let _ = rustix::process::kill_process_group(
            rustix::process::Pid::from_child(&self.driver),
            rustix::process::Signal::KILL,
        );
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The processes whose command line names `profile` (Chromium and its helpers run with it).
    fn processes_of(profile: &std::path::Path) -> Vec<String> {
        let needle = profile.display().to_string();
        let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|entry| std::fs::read(entry.path().join("cmdline")).ok().map(|c| (entry.file_name(), c)))
            .filter(|(_, cmdline)| String::from_utf8_lossy(cmdline).contains(&needle))
            .map(|(pid, _)| pid.to_string_lossy().into_owned())
            .collect()
    }

    /// Chromium outlived its driver once the driver alone was killed: every CI run left one
    /// browser running. Ending the session, or dropping the browser without it (a failed test),
    /// must leave none.
    #[tokio::test]
    async fn no_browser_outlives_its_session_or_a_failed_test() {
        if Browser::missing_here() {
            return;
        }
        let quit = Browser::start().await;
        let quit_profile = quit.profile.clone();
        assert!(!processes_of(&quit_profile).is_empty(), "Chromium runs with its profile");
        quit.quit().await;

        let dropped = Browser::start().await;
        let dropped_profile = dropped.profile.clone();
        drop(dropped);

        // A killed process takes a moment to go.
        for _ in 0..50 {
            if processes_of(&quit_profile).is_empty() && processes_of(&dropped_profile).is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "left running: {:?} after quit, {:?} after drop",
            processes_of(&quit_profile),
            processes_of(&dropped_profile)
        );
    }
}
