//! [`S3Server`]: a real S3-compatible server (moto, from PyPI) on an unused port, for the avatar
//! store's tests. `.ci/run` installs it into the test tools' virtual environment
//! (`~/.cache/contacts-api/test-tools`); `MOTO_SERVER` or a `moto_server` on `PATH` also work.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::unused_port;

/// Access key the tests sign with (moto accepts any).
pub const S3_ACCESS_KEY_ID: &str = "test-access-key";
/// Secret key the tests sign with.
pub const S3_SECRET_ACCESS_KEY: &str = "test-secret-key";

/// A moto S3 server of the test's own; killed when dropped.
#[derive(Debug)]
pub struct S3Server {
    port: u16,
    process: Child,
}

/// Where `moto_server` is: `MOTO_SERVER`, then the test tools' virtual environment, then `PATH`.
fn moto_server() -> PathBuf {
    match std::env::var("MOTO_SERVER") {
        Ok(path) => path.into(),
        Err(_) => crate::tools::program("moto_server"),
    }
}

impl S3Server {
    /// Starts the server and waits until it answers. Blocking (a second or two).
    pub fn start() -> Self {
        let port = unused_port();
        let process = Command::new(moto_server())
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is installed (pip install 'moto[server]'; .ci/run does it)");
        let server = Self { port, process };
        let step = Duration::from_millis(100);
        for _ in 0..150 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            std::thread::sleep(step);
        }
        panic!("moto_server did not start on port {port}");
    }

    /// The endpoint URL, for `S3_ENDPOINT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket with a random name and returns the name.
    pub async fn create_bucket(&self) -> String {
        let name = format!("avatars-{}", crate::random_hex(6));
        let response =
            crate::http_client().build().unwrap().put(format!("{}/{name}", self.endpoint())).send().await.unwrap();
        assert!(response.status().is_success(), "bucket not created: {}", response.status());
        name
    }

    /// The names of the objects in `bucket`, through moto's own listing.
    pub async fn object_names(&self, bucket: &str) -> Vec<String> {
        let url = format!("{}/{bucket}?list-type=2", self.endpoint());
        let xml = crate::http_client().build().unwrap().get(url).send().await.unwrap().text().await.unwrap();
        xml.split("<Key>").skip(1).filter_map(|part| part.split("</Key>").next()).map(str::to_owned).collect()
    }

    /// Kills the server: the bucket becomes unreachable.
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.kill();
    }
}
