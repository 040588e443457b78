//! [`LoginThrottle`]: limits password guessing. Failed logins are counted per login name (as
//! typed, ignoring case) and client address, and per client address alone; past a limit, every
//! login for that pair (or from that address) is refused until the window has passed, even
//! with the right password. Unknown names are counted exactly like known ones, and the same
//! name from another address is not affected, so an attacker cannot lock the owner out.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::auth::TokenPair;
use crate::error::Error;

/// A login attempt not yet run, as the inbound side hands it to a [`LoginGuard`].
pub type LoginAttempt<'a> = Pin<Box<dyn Future<Output = Result<TokenPair, Error>> + 'a>>;

/// The login throttle as the inbound side sees it: every login attempt (password or app
/// password) runs through it. Object-safe, so inbound adapters name no counter adapter.
#[async_trait(?Send)]
pub trait LoginGuard: Send + Sync {
    /// Runs `attempt`, a login of `name` from `client`, unless the pair or the address is
    /// locked out ([`Error::LoginThrottled`]); see [`LoginThrottle::login`].
    async fn guard<'a>(&'a self, name: &'a str, client: IpAddr, attempt: LoginAttempt<'a>) -> Result<TokenPair, Error>;
}

#[async_trait(?Send)]
impl<F: FailureCounter> LoginGuard for LoginThrottle<F> {
    async fn guard<'a>(&'a self, name: &'a str, client: IpAddr, attempt: LoginAttempt<'a>) -> Result<TokenPair, Error> {
        self.login(name, client, attempt).await
    }
}

/// Counts failures per key in windows that start at a key's first failure; shared by every
/// instance of the service (Redis), or kept in process.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait FailureCounter: Send + Sync + 'static {
    /// For each key, the failures counted in its current window and the seconds left in it
    /// (`(0, 0)` when there are none).
    async fn counts(&self, keys: &[String]) -> Result<Vec<(u64, u64)>, Error>;

    /// Adds one failure to every key; a key's window starts at its first failure and lasts
    /// `window_seconds`.
    async fn add_failure(&self, keys: &[String], window_seconds: u64) -> Result<(), Error>;

    /// Forgets a key's failures.
    async fn clear(&self, key: &str) -> Result<(), Error>;
}

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleSettings {
    /// Failures of one name from one address before that pair is locked.
    pub max_failures: u64,
    /// Failures from one address, whatever the names, before it is locked.
    pub max_failures_per_ip: u64,
    /// How long failures count, and so how long a lockout lasts at most, in seconds.
    pub window_seconds: u64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self { max_failures: 5, max_failures_per_ip: 100, window_seconds: 900 }
    }
}

/// Wraps login attempts with the failure counts.
#[derive(Debug, Clone)]
pub struct LoginThrottle<F> {
    counter: F,
    settings: ThrottleSettings,
}

/// The key of a login name (hashed: keys stay short and hold no personal data) from an address.
fn pair_key(name: &str, client: IpAddr) -> String {
    let digest = Sha256::digest(name.to_lowercase().as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("login:{hex}:{client}")
}

/// The key of an address.
fn address_key(client: IpAddr) -> String {
    format!("login-ip:{client}")
}

impl<F: FailureCounter> LoginThrottle<F> {
    /// A throttle counting with `counter`.
    pub fn new(counter: F, settings: ThrottleSettings) -> Self {
        Self { counter, settings }
    }

    /// Runs `attempt` (a login of `name` from `client`) unless the pair or the address is
    /// locked ([`Error::LoginThrottled`], without running it). A wrong password
    /// ([`Error::InvalidCredentials`]) counts as a failure; a success clears the pair's count.
    ///
    /// When the counter cannot be reached, logins go on unthrottled (with a warning): an outage
    /// of the shared cache must not lock every user out.
    pub async fn login<T>(
        &self,
        name: &str,
        client: IpAddr,
        attempt: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let keys = [pair_key(name, client), address_key(client)];
        match self.counter.counts(&keys).await {
            Ok(counts) => {
                let limits = [self.settings.max_failures, self.settings.max_failures_per_ip];
                let locked = counts.iter().zip(limits).filter(|((count, _), limit)| count >= limit);
                if let Some(retry_after) = locked.map(|((_, left), _)| (*left).max(1)).max() {
                    tracing::warn!(client = %client, retry_after, counter = "login_throttled", "login throttled");
                    return Err(Error::LoginThrottled { retry_after });
                }
            }
            Err(error) => tracing::warn!(error = ?error, "login failures cannot be counted; not throttling"),
        }
        let outcome = attempt.await;
        let recorded = match &outcome {
            Err(Error::InvalidCredentials) => self.counter.add_failure(&keys, self.settings.window_seconds).await,
            Ok(_) => self.counter.clear(&keys[0]).await,
            Err(_) => Ok(()),
        };
        if let Err(error) = recorded {
            tracing::warn!(error = ?error, "could not record a login outcome for throttling");
        }
        outcome
    }
}

#[cfg(test)]
mod tests;
