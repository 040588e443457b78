//! [`ReminderUseCases`]: what inbound adapters may ask about reminder settings and the
//! one-click unsubscribe link of the digest mail.

use async_trait::async_trait;

use super::pass::ReminderStore;
use super::settings::{ReminderSettings, SettingsPatch};
use crate::auth::{TokenCodec, TokenKind};
use crate::clock::Clock;
use crate::error::Error;
use crate::user::UserId;

/// The reminder use cases as an object-safe trait, so `AppState` can hold them behind
/// `Arc<dyn …>`. [`ReminderService`] implements it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait(?Send)]
pub trait ReminderUseCases: Send + Sync {
    /// The user's reminder settings.
    async fn settings(&self, user: UserId) -> Result<ReminderSettings, Error>;
    /// Applies a partial change and returns the resulting settings.
    async fn update_settings(&self, user: UserId, patch: SettingsPatch) -> Result<ReminderSettings, Error>;
    /// Turns reminders off for the user an unsubscribe token speaks for. A bad, expired or
    /// other-kind token is `InvalidResetToken` (400) and changes nothing.
    async fn unsubscribe(&self, token: &str) -> Result<(), Error>;
}

/// Reminder settings and unsubscribe over the store port, the token codec and the clock.
pub struct ReminderService<S, T, C> {
    store: S,
    tokens: T,
    clock: C,
}

impl<S: ReminderStore, T: TokenCodec, C: Clock> ReminderService<S, T, C> {
    /// A service over its ports.
    pub fn new(store: S, tokens: T, clock: C) -> Self {
        Self { store, tokens, clock }
    }
}

#[async_trait(?Send)]
impl<S: ReminderStore, T: TokenCodec, C: Clock> ReminderUseCases for ReminderService<S, T, C> {
    async fn settings(&self, user: UserId) -> Result<ReminderSettings, Error> {
        self.store.settings(user).await
    }

    async fn update_settings(&self, user: UserId, patch: SettingsPatch) -> Result<ReminderSettings, Error> {
        self.store.update_settings(user, patch).await
    }

    async fn unsubscribe(&self, token: &str) -> Result<(), Error> {
        let claims = self
            .tokens
            .decode(token, TokenKind::ReminderUnsubscribe)
            .filter(|c| c.kind == TokenKind::ReminderUnsubscribe && !c.is_expired(self.clock.now()))
            .ok_or(Error::InvalidResetToken)?;
        let off = SettingsPatch { birthday_reminders: Some(false), ..SettingsPatch::default() };
        match self.store.update_settings(claims.subject, off).await {
            Err(Error::NotFound(_)) => Err(Error::InvalidResetToken),
            other => other.map(|_| ()),
        }
    }
}
