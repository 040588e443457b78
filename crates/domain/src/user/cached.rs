//! [`CachedUsers`]: a user repository that reads users by id through the cache and drops the
//! cached copy on every change, so the next request sees it.

use chrono::{DateTime, Utc};

use super::models::{NewUser, PasswordHash, Role, User, UserCredentials, UserId};
use super::ports::{Lookup, UserCache, UserRepository};
use crate::email::EmailAddress;
use crate::error::Error;

/// Wraps a repository `R` with a cache `C`. Only `find_by_id` (what authentication uses on
/// every request) is served from the cache; lookups that need the password hash always go to
/// the repository. Cache failures are logged and treated as misses.
#[derive(Debug, Clone)]
pub struct CachedUsers<R, C> {
    repository: R,
    cache: C,
}

impl<R: UserRepository, C: UserCache> CachedUsers<R, C> {
    /// Puts `cache` in front of `repository`.
    pub fn new(repository: R, cache: C) -> Self {
        Self { repository, cache }
    }

    /// The cache, for health checks and operators.
    pub fn cache(&self) -> &C {
        &self.cache
    }

    /// Drops the cached copy of a user changed elsewhere (the command line, another service).
    pub async fn forget(&self, id: UserId) {
        if let Err(error) = self.cache.remove(id).await {
            tracing::warn!(user_id = %id, error = %error, "could not drop a cached user");
        }
    }

    /// Forgets the user a change returned, and passes the change on.
    async fn changed(&self, changed: Result<Option<User>, Error>) -> Result<Option<User>, Error> {
        if let Ok(Some(user)) = &changed {
            self.forget(user.id).await;
        }
        changed
    }
}

impl<R: UserRepository, C: UserCache> UserRepository for CachedUsers<R, C> {
    async fn create(&self, new_user: NewUser) -> Result<User, Error> {
        self.repository.create(new_user).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, Error> {
        let seen = match self.cache.get(id).await {
            Ok(Lookup::Hit(user)) => return Ok(Some(user)),
            Ok(Lookup::Miss(seen)) => Some(seen),
            Err(error) => {
                tracing::warn!(error = %error, "user cache unavailable; reading the database");
                None
            }
        };
        let user = self.repository.find_by_id(id).await?;
        // Put with what the miss saw: a change dropping the copy meanwhile keeps this one out.
        if let (Some(user), Some(seen)) = (&user, seen)
            && let Err(error) = self.cache.put(user, seen).await
        {
            tracing::warn!(error = %error, "could not cache a user");
        }
        Ok(user)
    }

    async fn find_by_email(&self, email: &EmailAddress) -> Result<Option<User>, Error> {
        self.repository.find_by_email(email).await
    }

    async fn find_credentials(&self, login: &str) -> Result<Option<UserCredentials>, Error> {
        self.repository.find_credentials(login).await
    }

    async fn confirm_email(&self, id: UserId) -> Result<Option<User>, Error> {
        let changed = self.repository.confirm_email(id).await;
        self.changed(changed).await
    }

    async fn update_password(&self, id: UserId, password_hash: PasswordHash) -> Result<Option<User>, Error> {
        let changed = self.repository.update_password(id, password_hash).await;
        self.changed(changed).await
    }

    async fn update_avatar(&self, id: UserId, avatar: &str) -> Result<Option<(User, Option<String>)>, Error> {
        let changed = self.repository.update_avatar(id, avatar).await?;
        if let Some((user, _)) = &changed {
            self.forget(user.id).await;
        }
        Ok(changed)
    }

    async fn end_session(
        &self,
        id: UserId,
        session: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, Error> {
        let changed = self.repository.end_session(id, session, until, now).await;
        self.changed(changed).await
    }

    async fn end_all_sessions(&self, id: UserId) -> Result<Option<User>, Error> {
        let changed = self.repository.end_all_sessions(id).await;
        self.changed(changed).await
    }

    async fn set_role(&self, email: &EmailAddress, role: Role) -> Result<Option<User>, Error> {
        let changed = self.repository.set_role(email, role).await;
        self.changed(changed).await
    }
}

#[cfg(test)]
mod tests;
