//! [`LoginThrottle`]: limits password guessing. Failed logins are counted per login name (as
//! typed, ignoring case) and client address, and per client address alone, each failure for the
//! window from when it happened; past a limit, every login for that pair (or from that address)
//! is refused until enough of them have run out, even with the right password. Unknown names
//! are counted exactly like known ones, and the same name from another address is not
//! affected, so an attacker cannot lock the owner out.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};

use crate::auth::TokenPair;
use crate::email::fold_case;
use crate::error::Error;

/// A login attempt not yet run, as the inbound side hands it to a [`LoginGuard`].
pub type LoginAttempt<'a> = Pin<Box<dyn Future<Output = Result<TokenPair, Error>> + 'a>>;

/// The login throttle as REST's login sees it: every password login runs through it.
/// Object-safe, so inbound adapters name no counter adapter. (CardDAV's Basic sign-ins, app
/// passwords, run through [`LoginThrottle::secret_login`], called by the composition root.)
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

/// Counts failures per key, each for its window from the moment it happened (a sliding
/// window: N failures within any span of the window's length are N, with no edge where a count
/// starts again); shared by every instance of the service (Redis), or kept in process.
///
/// An attempt is counted before it runs and taken back if it did not fail, so attempts racing
/// each other cannot all slip under a limit that each of them alone would have met.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait FailureCounter: Send + Sync + 'static {
    /// Adds one failure to every key, atomically per key, counting for `window_seconds` from
    /// now, and answers for each key the failures that have not run out (this one included) and
    /// the seconds until the earliest of them does: when the count goes down.
    async fn add_failure(&self, keys: &[String], window_seconds: u64) -> Result<Vec<(u64, u64)>, Error>;

    /// Takes one failure back from every key that still counts one (an attempt counted up front
    /// that did not fail): its latest; a key left with none is forgotten.
    async fn take_back(&self, keys: &[String]) -> Result<(), Error>;

    /// Answers, without counting anything, the failures every key counts now and the seconds
    /// until the earliest runs out (`(0, 0)` for a key that counts none).
    async fn counts(&self, keys: &[String]) -> Result<Vec<(u64, u64)>, Error>;

    /// Forgets a key's failures.
    async fn clear(&self, key: &str) -> Result<(), Error>;

    /// Waits `duration`, on the runtime the counter serves (the domain has no timer of its own):
    /// an attempt past a limit waits so before it counts again.
    async fn pause(&self, duration: Duration);
}

/// The pauses, in milliseconds, of an attempt found past a limit only with attempts of the same
/// name and address still running (each counted up front), before it is refused (2.9 s in all):
/// a client's concurrent logins with the right password are not failures, and go through once
/// those settle (a success clears the name's count). A name locked by settled failures is
/// refused at once.
const SETTLE_PAUSES_MS: [u64; 8] = [20, 40, 80, 160, 320, 500, 750, 1000];

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

/// The key of a login name (case folded as the store compares it, then hashed: keys stay short
/// and hold no personal data) from an address.
fn pair_key(name: &str, client: IpAddr) -> String {
    let digest = Sha256::digest(fold_case(name).as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("login:{hex}:{client}")
}

/// The key of an address.
fn address_key(client: IpAddr) -> String {
    format!("login-ip:{client}")
}

/// The key counting the attempts of `key` (a pair's or an address's) that are still running.
fn in_flight_key(key: &str) -> String {
    format!("{key}:in-flight")
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
    /// The attempt is counted as a failure before it runs, then taken back unless it failed:
    /// concurrent attempts each take their own place under the limit, so a burst of guesses
    /// sent at once gets no more tries than guesses sent one by one. It is also counted as in
    /// flight while it runs, so the count tells settled failures from attempts still running:
    /// past a limit by settled failures alone, it is refused at once; past it only with attempts
    /// still running (a client's concurrent logins with the right password), it waits for them to
    /// settle (pauses of 2.9 s in all) and is refused only if the count is still past it then.
    /// An attempt its client abandons while it runs stays counted, as a failure in flight.
    ///
    /// When the counter answers an error, logins go on unthrottled (with a warning): an outage
    /// must not lock every user out. (The Redis counter answers from its in-process count
    /// instead while Redis is down, so this is the last resort.)
    pub async fn login<T>(
        &self,
        name: &str,
        client: IpAddr,
        attempt: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let (pair, address) = (pair_key(name, client), address_key(client));
        // The attempts in flight of the pair and the address, then their failures: one atomic
        // count of all four, so the two numbers of a key are of the same moment.
        let keys = [in_flight_key(&pair), in_flight_key(&address), pair, address];
        let limits = [self.settings.max_failures, self.settings.max_failures_per_ip];
        let mut pauses = SETTLE_PAUSES_MS.iter();
        loop {
            let counts = match self.counter.add_failure(&keys, self.settings.window_seconds).await {
                Ok(counts) => counts,
                Err(error) => {
                    tracing::warn!(error = ?error, "login failures cannot be counted; not throttling");
                    return attempt.await;
                }
            };
            let (running, failures) = counts.split_at(2);
            // Past a limit, and whether by failures that have settled (a lock) or only with
            // attempts still running (a crowd, which may yet clear).
            let (mut retry_after, mut locked) = (None, false);
            for (((count, left), (in_flight, _)), limit) in failures.iter().zip(running).zip(limits) {
                if *count > limit {
                    retry_after = retry_after.max(Some((*left).max(1)));
                    locked |= count.saturating_sub(*in_flight) >= limit;
                }
            }
            let Some(retry_after) = retry_after else { break };
            settle(self.counter.take_back(&keys).await);
            match pauses.next() {
                Some(pause) if !locked => self.counter.pause(Duration::from_millis(*pause)).await,
                _ => {
                    tracing::warn!(client = %client, retry_after, counter = "login_throttled", "login throttled");
                    return Err(Error::LoginThrottled { retry_after });
                }
            }
        }
        let outcome = attempt.await;
        let (running, failures) = keys.split_at(2);
        match &outcome {
            // The failure stands; the attempt is no longer in flight.
            Err(Error::InvalidCredentials) => settle(self.counter.take_back(running).await),
            Ok(_) => {
                settle(self.counter.clear(&failures[0]).await);
                settle(self.counter.take_back(&[running, &failures[1..]].concat()).await);
            }
            Err(_) => settle(self.counter.take_back(&keys).await),
        }
        outcome
    }

    /// Runs `attempt`, a sign-in of `name` from `client` with a secret too long to guess (an
    /// app password: at least 128 random bits), under the same limits as [`Self::login`] but
    /// without its up-front count. Reserving a place per attempt is what keeps a burst of
    /// password guesses within the limit; a burst of guesses at a 128-bit secret gains nothing,
    /// while a sync client signs in on every request, often several at once. So the counts are
    /// read first (one call to the counter): a pair or address at its limit goes the careful
    /// way of [`Self::login`] (which waits for attempts in flight to settle and refuses a locked
    /// one); otherwise the attempt runs at once, a wrong secret is counted after it failed, and
    /// a success clears the pair's failures if it has any.
    pub async fn secret_login<T>(
        &self,
        name: &str,
        client: IpAddr,
        attempt: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let keys = [pair_key(name, client), address_key(client)];
        let counts = match self.counter.counts(&keys).await {
            Ok(counts) => counts,
            Err(error) => {
                tracing::warn!(error = ?error, "login failures cannot be counted; not throttling");
                return attempt.await;
            }
        };
        let limits = [self.settings.max_failures, self.settings.max_failures_per_ip];
        if counts.iter().zip(limits).any(|((count, _), limit)| *count >= limit) {
            return self.login(name, client, attempt).await;
        }
        let outcome = attempt.await;
        match &outcome {
            Err(Error::InvalidCredentials) => {
                let counted = self.counter.add_failure(&keys, self.settings.window_seconds).await;
                settle(counted.map(drop));
            }
            Ok(_) if counts.first().is_some_and(|(count, _)| *count > 0) => {
                settle(self.counter.clear(&keys[0]).await);
            }
            _ => {}
        }
        outcome
    }

    /// Counts a failed sign-in that names no login (a refused bearer token, or credentials that
    /// cannot be read at all) against `client`'s address alone, and answers what to tell the
    /// client: `failure` itself, or [`Error::LoginThrottled`] once the address is past its limit
    /// (its logins are refused too). Without it, guessing tokens or sending garbage would be free
    /// where guessing a password is not. Counted after the fact, and only failures: a valid
    /// token is no guess, so a sign-in that succeeds never waits for the counter.
    pub async fn nameless_failure(&self, client: IpAddr, failure: Error) -> Error {
        let key = [address_key(client)];
        match self.counter.add_failure(&key, self.settings.window_seconds).await {
            Ok(counts) => match counts.first() {
                Some((count, left)) if *count > self.settings.max_failures_per_ip => {
                    // Refused, it does not count (as a refused login does not): an address
                    // sending garbage while locked keeps at most its limit of failures.
                    settle(self.counter.take_back(&key).await);
                    let retry_after = (*left).max(1);
                    tracing::warn!(client = %client, retry_after, counter = "login_throttled", "login throttled");
                    Error::LoginThrottled { retry_after }
                }
                _ => failure,
            },
            Err(error) => {
                tracing::warn!(error = ?error, "login failures cannot be counted; not throttling");
                failure
            }
        }
    }
}

/// Warns about a count that could not be settled (the attempt's outcome stands).
fn settle(recorded: Result<(), Error>) {
    if let Err(error) = recorded {
        tracing::warn!(error = ?error, "could not record a login outcome for throttling");
    }
}

#[cfg(test)]
mod tests;
