//! [`UserService`]: account administration that is not part of signing in.

use super::models::{Role, User};
use super::ports::UserRepository;
use crate::email::EmailAddress;
use crate::error::Error;

/// Operator actions on accounts, such as granting a role.
#[derive(Debug, Clone)]
pub struct UserService<U> {
    users: U,
}

impl<U: UserRepository> UserService<U> {
    /// Assembles the service from its port.
    pub fn new(users: U) -> Self {
        Self { users }
    }

    /// Gives the user with this email the role; [`Error::NotFound`] for an unknown email.
    pub async fn set_role(&self, email: &str, role: Role) -> Result<User, Error> {
        let email = EmailAddress::parse("email", email).map_err(Error::invalid)?;
        self.users.set_role(&email, role).await?.ok_or(Error::NotFound("User not found"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::{TimeZone, Utc};

    use crate::user::{MockUserRepository, UserId};

    fn user(role: Role) -> User {
        User {
            id: UserId(7),
            username: "ada".to_owned(),
            email: EmailAddress::from_trusted("Ada@Example.org".to_owned()),
            avatar: None,
            role,
            confirmed: true,
            created_at: Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
            token_version: 0,
        }
    }

    /// A repository whose `set_role` expects this email and role once and answers `found`.
    fn setting_role(email: &'static str, role: Role, found: Option<User>) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users
            .expect_set_role()
            .withf(move |e, r| e.as_str() == email && *r == role)
            .times(1)
            .returning(move |_, _| Ok(found.clone()));
        users
    }

    #[tokio::test]
    async fn set_role_returns_the_updated_user() {
        let users = setting_role("Ada@Example.org", Role::Admin, Some(user(Role::Admin)));

        let updated = UserService::new(users).set_role("Ada@Example.org", Role::Admin).await.unwrap();

        assert_eq!(updated, user(Role::Admin));
    }

    #[tokio::test]
    async fn set_role_for_an_unknown_email_is_not_found() {
        let users = setting_role("nobody@example.org", Role::User, None);

        let result = UserService::new(users).set_role("nobody@example.org", Role::User).await;

        assert!(matches!(result, Err(Error::NotFound("User not found"))), "{result:?}");
    }

    #[tokio::test]
    async fn set_role_rejects_an_invalid_email_without_touching_the_store() {
        let mut users = MockUserRepository::new();
        users.expect_set_role().never();

        let result = UserService::new(users).set_role("not-an-email", Role::Admin).await;

        match result {
            Err(Error::Invalid(problems)) => {
                assert_eq!(problems.len(), 1);
                assert_eq!((problems[0].field().as_str(), problems[0].rule.name()), ("email", "InvalidEmail"));
            }
            other => panic!("expected Error::Invalid, got {other:?}"),
        }
    }
}
