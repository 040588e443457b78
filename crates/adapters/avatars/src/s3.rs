//! [`S3AvatarStore`]: avatars as objects in an S3-compatible bucket (AWS S3, MinIO, Ceph, …),
//! shared by every instance, through `object_store`. The bucket stays private: the app serves
//! the avatars under `/media/` itself.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use contacts_domain::Error;
use contacts_domain::user::AvatarStore;

use crate::{Decodes, is_avatar_name, random_name, stored_name};

/// How long one request to the bucket may take; an unreachable bucket must fail an upload in
/// seconds (`503`), not hang it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Retries of a failed request (transient errors only), all within [`RETRY_WINDOW`].
const MAX_RETRIES: usize = 2;
/// The time after which no request is retried.
const RETRY_WINDOW: Duration = Duration::from_secs(5);
/// How long `/readyz` waits for the bucket: well under a readiness probe's timeout, so a bucket
/// that hangs is reported as unavailable instead of making the pod look unready.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the bucket is and how to sign in to it.
#[derive(Clone)]
pub struct S3Location {
    /// The bucket's name.
    pub bucket: String,
    /// The region (any value for most non-AWS servers).
    pub region: String,
    /// The server's URL for servers other than AWS, addressed path-style
    /// (`{endpoint}/{bucket}/{key}`); `None`: AWS itself.
    pub endpoint: Option<String>,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The keys stay out of logs.
        f.debug_struct("S3Location").field("bucket", &self.bucket).field("endpoint", &self.endpoint).finish()
    }
}

/// Stores avatars as `<random>.png` objects at the bucket's top level, served under
/// `{base_url}/media/`.
#[derive(Debug, Clone)]
pub struct S3AvatarStore {
    bucket: Arc<AmazonS3>,
    public_prefix: String,
    decodes: Decodes,
}

/// `AVATAR_STORE=s3` settings the S3 client refuses (say, an unusable endpoint URL).
#[derive(Debug)]
pub struct S3SettingsError(object_store::Error);

impl std::fmt::Display for S3SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the S3 settings are unusable")
    }
}

impl std::error::Error for S3SettingsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// Any failure to reach or use the bucket: a dependency outage (`503`), not a bug.
fn unavailable(error: object_store::Error) -> Error {
    Error::Unavailable(Box::new(error))
}

impl S3AvatarStore {
    /// A store for `location` whose URLs start with `{base_url}/media/`. Nothing is contacted
    /// yet, so a bucket that is down does not stop the server from starting; the error is a
    /// configuration mistake (say, an unusable endpoint URL).
    pub fn new(location: &S3Location, base_url: &str) -> Result<Self, S3SettingsError> {
        // HTTPS needs a process-wide rustls crypto provider; ring is the only one built in.
        // An error means one is installed already, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&location.bucket)
            .with_region(&location.region)
            .with_access_key_id(&location.access_key_id)
            .with_secret_access_key(&location.secret_access_key)
            .with_client_options(
                ClientOptions::new()
                    .with_timeout(REQUEST_TIMEOUT)
                    .with_connect_timeout(CONNECT_TIMEOUT)
                    .with_allow_http(true),
            )
            .with_retry(RetryConfig { max_retries: MAX_RETRIES, retry_timeout: RETRY_WINDOW, ..Default::default() });
        if let Some(endpoint) = &location.endpoint {
            builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(false);
        }
        let bucket = builder.build().map_err(S3SettingsError)?;
        Ok(Self {
            bucket: Arc::new(bucket),
            public_prefix: format!("{}/media/", base_url.trim_end_matches('/')),
            decodes: Decodes::per_core(),
        })
    }

    /// Whether the bucket answers now, within `HEALTH_TIMEOUT`: a listing of an empty
    /// prefix, the cheapest signed call.
    pub async fn is_healthy(&self) -> bool {
        let prefix = Path::from("health-check/");
        let listing = self.bucket.list_with_delimiter(Some(&prefix));
        matches!(tokio::time::timeout(HEALTH_TIMEOUT, listing).await, Ok(Ok(_)))
    }
}

impl AvatarStore for S3AvatarStore {
    async fn store(&self, upload: Vec<u8>) -> Result<String, Error> {
        let png = self.decodes.reencode(upload).await?;
        let name = random_name()?;
        self.bucket.put(&Path::from(name.as_str()), PutPayload::from(png)).await.map_err(unavailable)?;
        Ok(format!("{}{name}", self.public_prefix))
    }

    async fn remove(&self, url: &str) -> Result<(), Error> {
        let Some(name) = stored_name(url) else {
            return Ok(());
        };
        match self.bucket.delete(&Path::from(name)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        if !is_avatar_name(name) {
            return Ok(None);
        }
        match self.bucket.get(&Path::from(name)).await {
            Ok(object) => Ok(Some(object.bytes().await.map_err(unavailable)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn store_at(endpoint: String) -> S3AvatarStore {
        let location = S3Location {
            bucket: "avatars".into(),
            region: "us-east-1".into(),
            endpoint: Some(endpoint),
            access_key_id: "key".into(),
            secret_access_key: "secret".into(),
        };
        S3AvatarStore::new(&location, "http://contacts.test/").unwrap()
    }

    #[tokio::test]
    async fn a_bucket_that_never_answers_is_reported_unhealthy_quickly() {
        // Accepts connections (the kernel's backlog) but never answers a byte.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let store = store_at(format!("http://{}", silent.local_addr().unwrap()));
        let started = Instant::now();
        assert!(!store.is_healthy().await);
        assert!(started.elapsed() < HEALTH_TIMEOUT + Duration::from_secs(1), "{:?}", started.elapsed());
    }

    #[tokio::test]
    async fn an_https_bucket_is_reached_over_tls() {
        // A TLS server that is not S3: the handshake must be attempted (a crypto provider is
        // installed, the client does not panic or refuse the scheme) and fail as an outage.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let hello = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut first = [0u8; 1];
            socket.read_exact(&mut first).await.unwrap();
            first[0]
        });
        let store = store_at(format!("https://{address}"));
        let mine = format!("http://contacts.test/media/{}.png", "cd".repeat(16));
        assert!(matches!(store.remove(&mine).await, Err(Error::Unavailable(_))));
        assert_eq!(hello.await.unwrap(), 0x16, "a TLS handshake record came first");
    }

    #[tokio::test]
    async fn names_it_never_issues_are_not_looked_up_and_foreign_urls_not_removed() {
        // Nothing listens there: any request would fail with Unavailable.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let store = store_at(format!("http://{closed}"));
        assert!(store.read("../secret.png").await.unwrap().is_none());
        assert!(store.read("config.json").await.unwrap().is_none());
        store.remove("https://www.gravatar.com/avatar/x.png").await.unwrap();
        let mine = format!("http://contacts.test/media/{}.png", "ab".repeat(16));
        assert!(matches!(store.remove(&mine).await, Err(Error::Unavailable(_))), "a real delete was attempted");
    }
}
