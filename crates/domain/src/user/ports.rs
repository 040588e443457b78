//! The storage port for users.

use chrono::{DateTime, Utc};

use super::models::{NewUser, PasswordHash, Role, User, UserCredentials, UserId};
use crate::email::EmailAddress;
use crate::error::Error;

/// Where users are kept. Implementations enforce case-insensitive uniqueness of usernames and
/// emails themselves (a unique index, not a check-then-insert) and report it as
/// [`Error::Conflict`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait UserRepository: Send + Sync + 'static {
    /// Stores a new account, `confirmed: false`, role `user`.
    async fn create(&self, new_user: NewUser) -> Result<User, Error>;

    /// The user with this id, if any.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, Error>;

    /// The user with this email (compared case-insensitively), if any.
    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, Error>;

    /// The user whose username or email equals `login` (case-insensitively), with the hash.
    async fn find_credentials(&self, login: &str) -> Result<Option<UserCredentials>, Error>;

    /// Marks the email as confirmed; returns the updated user, or `None` if it does not exist or
    /// was confirmed already (so of two confirmations at once, exactly one gets the user).
    async fn confirm_email(&self, id: UserId) -> Result<Option<User>, Error>;

    /// Replaces the password hash and bumps the token version, which invalidates every access
    /// token issued before; `None` if the user does not exist.
    async fn update_password(&self, id: UserId, password_hash: PasswordHash) -> Result<Option<User>, Error>;

    /// Sets the avatar URL; the updated user and the URL it replaced, or `None` if the user
    /// does not exist. The replaced URL is read in the same step as the write, so of two
    /// racing changes the later one sees the earlier one's file (and can delete it).
    async fn update_avatar(&self, id: UserId, avatar: &str) -> Result<Option<(User, Option<String>)>, Error>;

    /// Records that `session` ended (logout): its access tokens, unexpired until `until`, are
    /// refused from now on. Entries whose `until` is before `now` are pruned in the same write.
    /// The updated user, or `None` if it does not exist.
    async fn end_session(
        &self,
        id: UserId,
        session: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error>;

    /// Ends every session of the user at once (theft detection): bumps the token version, so
    /// every access token issued before is refused.
    async fn end_all_sessions(&self, id: UserId) -> Result<Option<User>, Error>;

    /// Changes the role of the user with this email; `None` if there is no such user.
    async fn set_role(&self, email: &EmailAddress, role: Role) -> Result<Option<User>, Error>;
}

/// A fast, shared copy of users by id, read on every authenticated request instead of the
/// database. It holds no password hash. It is an accelerator only: callers treat its errors
/// as misses, so an outage slows requests down but never fails them.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait UserCache: Send + Sync + 'static {
    /// The cached user, or a miss with the [`CacheMark`] a copy read after it must be put with.
    async fn get(&self, id: UserId) -> Result<Lookup, Error>;

    /// Caches the user for the configured lifetime, only if the user's entry is still as
    /// `seen` at the miss: a [`remove`](Self::remove) in between means the copy was read before
    /// a change and may be stale, so it is not stored.
    async fn put(&self, user: &User, seen: CacheMark) -> Result<(), Error>;

    /// Drops the cached copy, so the next read sees the database, and leaves a mark no copy
    /// read before now can be put over.
    async fn remove(&self, id: UserId) -> Result<(), Error>;
}

/// What the cache answered for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// A copy.
    Hit(User),
    /// No copy; put one read from the database with this mark.
    Miss(CacheMark),
}

/// What a user's cache entry held at a miss (opaque to all but the cache): a copy is put only
/// while the entry still holds it, so a copy read before a change cannot land after the change
/// dropped the old one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CacheMark(pub Option<String>);

/// Counts hits per key in fixed windows, shared by every instance of the service.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait RateLimiter: Send + Sync + 'static {
    /// Adds one hit to `key` in the window starting at `window_start` (Unix seconds) that lasts
    /// `window_seconds`, and returns the window's count including this hit.
    async fn hit(&self, key: &str, window_start: i64, window_seconds: u64) -> Result<u64, Error>;
}

/// Where avatar images are kept and how they are served.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AvatarStore: Send + Sync + 'static {
    /// Checks that `upload` is a PNG, JPEG, WebP or GIF image by its content
    /// ([`Error::UnsupportedMedia`] otherwise), re-encodes it as a square avatar without
    /// metadata, stores it under an unguessable name and returns its public URL.
    async fn store(&self, upload: Vec<u8>) -> Result<String, Error>;

    /// Deletes a stored avatar by the URL [`store`](Self::store) returned; URLs it did not
    /// issue (such as a default Gravatar) are ignored.
    async fn remove(&self, url: &str) -> Result<(), Error>;

    /// The bytes of a stored avatar by its name (the last segment of its URL), or `None` when
    /// there is no such avatar; names the store never issues are `None`, so no other file or
    /// object can be read through it.
    async fn read(&self, name: &str) -> Result<Option<Vec<u8>>, Error>;
}
