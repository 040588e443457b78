//! Private PostgreSQL and Redis servers that a test owns and may stop and start again, for
//! drills where a dependency fails under load. The shared servers stay untouched.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{random_hex, unused_port};

/// Waits until something accepts TCP connections on `port`, for at most `patience`.
fn wait_for_port(port: u16, patience: Duration) -> bool {
    let step = Duration::from_millis(50);
    for _ in 0..(patience.as_millis() / step.as_millis()) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(step);
    }
    false
}

/// A PostgreSQL cluster of its own (`initdb` in a temporary folder, on an unused port, trust
/// authentication, `lc_messages=C`). Its programs are Debian's (`/usr/lib/postgresql/<v>/bin`)
/// or the ones on `PATH`; as root they run as the `postgres` user, since PostgreSQL refuses
/// root. Stopped and removed when dropped.
#[derive(Debug)]
pub struct PostgresServer {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PostgresServer {
    /// Creates and starts the cluster. Blocking (a second or two): call it before the app starts.
    pub fn start() -> Self {
        let as_postgres = Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.starts_with(b"0\n"));
        let data = std::env::temp_dir().join(format!("contacts-pg-{}", random_hex(6)));
        let server = Self { bin: postgres_bin(), data, port: unused_port(), as_postgres };
        let data = server.data.display().to_string();
        server.run("initdb", &["-D", &data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]);
        server.start_again();
        server
    }

    /// Starts the stopped cluster again on the same port, and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c lc_messages=C",
            self.port,
            self.data.display()
        );
        let (data, log) = (self.data.display().to_string(), self.data.join("server.log").display().to_string());
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "start"]);
    }

    /// Stops the cluster as an operator would (`pg_ctl stop -m fast`): open sessions are
    /// terminated, in-flight queries fail, new connections are refused.
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data.display().to_string(), "-m", "fast", "-w", "stop"]);
    }

    /// A URL of the `postgres` database, for [`crate::TestDatabase::create_on`].
    pub fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// One of the server's programs, run as `postgres` when we are root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    /// Runs one of the server's programs; panics if it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let output =
            self.command(program).args(args).stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self
            .command("pg_ctl")
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

/// The folder of `initdb` and `pg_ctl`: Debian keeps them off `PATH`, newest version first.
fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.filter_map(|entry| entry.ok().map(|e| e.path().join("bin"))).collect())
        .unwrap_or_default();
    versions.retain(|bin| bin.join("initdb").exists());
    versions.sort_by_key(|bin| bin.parent().and_then(Path::file_name).and_then(|v| v.to_str()?.parse::<u32>().ok()));
    versions.pop().unwrap_or_default()
}

/// A Redis server of its own on an unused port, keeping nothing on disk. Killed when dropped.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    process: Child,
}

impl RedisServer {
    /// Starts `redis-server` on an unused port and waits until it accepts connections.
    pub fn start() -> Self {
        Self::start_on(unused_port())
    }

    /// Starts `redis-server` on `port` (the port of one killed before: "Redis comes back").
    pub fn start_on(port: u16) -> Self {
        let process = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        assert!(wait_for_port(port, Duration::from_secs(5)), "redis-server did not start on port {port}");
        Self { port, process }
    }

    /// The server's URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to its clients) and returns its port.
    pub fn kill(mut self) -> u16 {
        self.halt();
        self.port
    }

    fn halt(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.halt();
    }
}
