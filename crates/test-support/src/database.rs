//! [`TestDatabase`]: a fresh, uniquely named PostgreSQL database per test, dropped afterwards.

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

/// The server tests create their databases on. Override with `TEST_DATABASE_URL` (any
/// database on the server; it is only used to create and drop others).
fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// An empty database that exists for the lifetime of this value, so tests never share state
/// and can run in parallel. It is dropped (with its connections) when the value is.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin: String,
}

impl TestDatabase {
    /// Creates a database named `contacts_test_<random>` on the test server.
    pub async fn create() -> Self {
        Self::create_on(&admin_url()).await
    }

    /// Creates a database on another server, given a URL of any database on it (a
    /// [`crate::PostgresServer`] a test stops and starts, say).
    pub async fn create_on(admin: &str) -> Self {
        let admin = admin.to_owned();
        let name = format!("contacts_test_{}", crate::random_hex(8));
        let mut conn = AsyncPgConnection::establish(&admin)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin} (set TEST_DATABASE_URL): {e}"));
        diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create test database");
        let (base, _) = admin.rsplit_once('/').expect("a database URL has a path");
        let url = format!("{base}/{name}");
        Self { name, url, admin }
    }

    /// The database's connection URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs one SQL statement on the database, for test setup that has no API.
    pub async fn execute(&self, sql: &str) {
        let mut conn = AsyncPgConnection::establish(&self.url).await.expect("reach the test database");
        diesel::sql_query(sql).execute(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// The value of one `SELECT count(*) …` on the database, for tests that wait for something
    /// the service does in the background.
    pub async fn count(&self, select: &str) -> i64 {
        let mut conn = AsyncPgConnection::establish(&self.url).await.expect("reach the test database");
        diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!("({select})")))
            .get_result(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{select}: {e}"))
    }

    /// Drops the database now, cutting its open connections: how tests simulate a database
    /// that has gone away while the app runs.
    pub async fn destroy(&self) {
        let mut conn = AsyncPgConnection::establish(&self.admin).await.expect("reach PostgreSQL");
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name))
            .execute(&mut conn)
            .await
            .expect("drop test database");
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let admin = self.admin.clone();
        // Drop runs inside the test's async runtime, which must not be blocked on; a short-lived
        // thread with its own runtime does the work.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                let mut conn = AsyncPgConnection::establish(&admin).await.ok()?;
                diesel::sql_query(sql).execute(&mut conn).await.ok()
            })
        })
        .join();
    }
}
