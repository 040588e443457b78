//! Users: who owns a contacts book, how they are identified and what they may do.

mod models;
mod ports;
mod service;

pub use models::{NewUser, PasswordHash, Role, User, UserCredentials, UserId, Username};
#[cfg(any(test, feature = "mocks"))]
pub use ports::MockUserRepository;
pub use ports::UserRepository;
pub use service::UserService;
