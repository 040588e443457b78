//! [`ProfileUseCases`]: what inbound adapters may ask about the current user's own account.

use async_trait::async_trait;

use super::models::User;
use super::ports::{AvatarStore, RateLimiter, UserRepository};
use super::profile::ProfileService;
use crate::clock::Clock;
use crate::error::Error;

/// The profile use cases as an object-safe trait (see
/// [`AuthUseCases`](crate::auth::AuthUseCases) for why). [`ProfileService`] implements it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait(?Send)]
pub trait ProfileUseCases: Send + Sync {
    /// See [`ProfileService::profile`].
    async fn profile(&self, user: User) -> Result<User, Error>;
    /// See [`ProfileService::change_avatar`].
    async fn change_avatar(&self, user: &User, upload: Vec<u8>) -> Result<User, Error>;
    /// A stored avatar's bytes by its file name (the last segment of its URL), `None` if there
    /// is no such avatar.
    async fn avatar(&self, name: &str) -> Result<Option<Vec<u8>>, Error>;
}

#[async_trait(?Send)]
impl<U: UserRepository, L: RateLimiter, A: AvatarStore, C: Clock> ProfileUseCases for ProfileService<U, L, A, C> {
    async fn profile(&self, user: User) -> Result<User, Error> {
        ProfileService::profile(self, user).await
    }

    async fn change_avatar(&self, user: &User, upload: Vec<u8>) -> Result<User, Error> {
        ProfileService::change_avatar(self, user, upload).await
    }

    async fn avatar(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        ProfileService::avatar(self, name).await
    }
}
