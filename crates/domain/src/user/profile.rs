//! [`ProfileService`]: what the current user does with their own account: read it (rate
//! limited) and, for admins, change the avatar.

use super::models::{Role, User};
use super::ports::{AvatarStore, RateLimiter, UserRepository};
use crate::clock::Clock;
use crate::error::Error;

/// The window of the profile rate limit.
pub const RATE_WINDOW_SECONDS: u64 = 60;

/// The ports [`ProfileService`] works with.
#[derive(Debug, Clone)]
pub struct ProfilePorts<U, L, A, C> {
    /// Where users are kept (usually behind the cache).
    pub users: U,
    /// Shared request counters.
    pub limiter: L,
    /// Where avatars go.
    pub avatars: A,
    /// The time.
    pub clock: C,
}

/// Reading one's profile under a per-user rate limit, and changing the avatar.
#[derive(Debug, Clone)]
pub struct ProfileService<U, L, A, C> {
    users: U,
    limiter: L,
    avatars: A,
    clock: C,
    profile_reads_per_minute: u64,
}

/// Refuses users without `role`: the one role check every guarded action goes through.
pub fn require_role(user: &User, role: Role) -> Result<(), Error> {
    if user.role == role { Ok(()) } else { Err(Error::Forbidden) }
}

impl<U: UserRepository, L: RateLimiter, A: AvatarStore, C: Clock> ProfileService<U, L, A, C> {
    /// Assembles the service; `profile_reads_per_minute` is the per-user limit on [`Self::profile`].
    pub fn new(ports: ProfilePorts<U, L, A, C>, profile_reads_per_minute: u64) -> Self {
        let ProfilePorts { users, limiter, avatars, clock } = ports;
        Self { users, limiter, avatars, clock, profile_reads_per_minute }
    }

    /// The user's own profile, counted against their per-minute limit. The limit is kept by
    /// the shared limiter, so it holds across instances; if the limiter is unavailable the
    /// request is let through (fail open) rather than refused.
    pub async fn profile(&self, user: User) -> Result<User, Error> {
        let now = self.clock.now().timestamp();
        let window = RATE_WINDOW_SECONDS as i64;
        let window_start = now - now.rem_euclid(window);
        let key = format!("me:{}", user.id);
        match self.limiter.hit(&key, window_start, RATE_WINDOW_SECONDS).await {
            Ok(count) if count > self.profile_reads_per_minute => {
                Err(Error::RateLimited { retry_after: (window_start + window - now) as u64 })
            }
            Ok(_) => Ok(user),
            Err(error) => {
                tracing::warn!(error = %error, "rate limiter unavailable; letting the request through");
                Ok(user)
            }
        }
    }

    /// A stored avatar by its file name; public, like any profile picture.
    pub async fn avatar(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        self.avatars.read(name).await
    }

    /// Replaces an admin's avatar with `upload` (checked and re-encoded by the store) and
    /// removes the file it replaced. Anyone else gets [`Error::Forbidden`].
    ///
    /// The file removed is the one the database held at the moment of the write, not the one
    /// the caller saw: when two uploads race, the later write removes the earlier one's file,
    /// so none is left orphaned.
    pub async fn change_avatar(&self, user: &User, upload: Vec<u8>) -> Result<User, Error> {
        require_role(user, Role::Admin)?;
        let url = self.avatars.store(upload).await?;
        let (updated, previous) = match self.users.update_avatar(user.id, &url).await {
            Ok(Some(changed)) => changed,
            // Nothing refers to the new file: remove it rather than leave it orphaned.
            outcome => {
                self.avatars.remove(&url).await?;
                return Err(outcome.err().unwrap_or(Error::Unauthenticated));
            }
        };
        if let Some(previous) = previous.as_deref().filter(|p| *p != url)
            && let Err(error) = self.avatars.remove(previous).await
        {
            tracing::warn!(error = %error, "could not remove the previous avatar");
        }
        Ok(updated)
    }
}

#[cfg(test)]
mod tests;
