//! Users: who owns a contacts book, how they are identified and what they may do.

mod cached;
mod models;
mod ports;
mod profile;
mod service;
mod use_cases;

pub use cached::CachedUsers;
pub use models::{NewUser, PasswordHash, Role, User, UserCredentials, UserId, Username};
pub use ports::{AvatarStore, CacheMark, Lookup, RateLimiter, UserCache, UserRepository};
#[cfg(any(test, feature = "mocks"))]
pub use ports::{MockAvatarStore, MockRateLimiter, MockUserCache, MockUserRepository};
pub use profile::{ProfilePorts, ProfileService, RATE_WINDOW_SECONDS, require_role};
pub use service::UserService;
#[cfg(any(test, feature = "mocks"))]
pub use use_cases::MockProfileUseCases;
pub use use_cases::ProfileUseCases;
