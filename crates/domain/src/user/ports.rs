//! The storage port for users.

use super::models::{NewUser, Role, User, UserCredentials, UserId};
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

    /// Marks the email as confirmed; returns the updated user, or `None` if it does not exist.
    async fn confirm_email(&self, id: UserId) -> Result<Option<User>, Error>;

    /// Changes the role of the user with this email; `None` if there is no such user.
    async fn set_role(&self, email: &EmailAddress, role: Role) -> Result<Option<User>, Error>;
}
