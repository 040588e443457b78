//! [`ReminderUseCases`]: what inbound adapters may ask about reminder settings and the
//! one-click unsubscribe link of the digest mail.

use async_trait::async_trait;

use super::pass::ReminderStore;
use super::settings::{ReminderSettings, SettingsInput, SettingsPatch};
use crate::auth::{Claims, TokenCodec, TokenKind};
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
    /// Validates a partial change (every wrong field reported at once), applies it and returns
    /// the resulting settings.
    async fn update_settings(&self, user: UserId, input: SettingsInput) -> Result<ReminderSettings, Error>;
    /// Checks an unsubscribe token without acting on it, for the page a mail's link opens
    /// (a GET must change nothing): `InvalidUnsubscribeToken` when it would not work.
    async fn check_unsubscribe(&self, token: &str) -> Result<(), Error>;
    /// Turns reminders off for the user an unsubscribe token speaks for. A bad, expired or
    /// other-kind token, or one whose user is gone, is `InvalidUnsubscribeToken` and changes
    /// nothing.
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

    /// The claims of a valid, unexpired unsubscribe token.
    fn unsubscribe_claims(&self, token: &str) -> Result<Claims, Error> {
        self.tokens
            .decode(token, TokenKind::ReminderUnsubscribe)
            .filter(|c| c.kind == TokenKind::ReminderUnsubscribe && !c.is_expired(self.clock.now()))
            .ok_or(Error::InvalidUnsubscribeToken)
    }
}

/// A token whose user no longer exists is as bad as a forged one.
fn gone_is_invalid<V>(result: Result<V, Error>) -> Result<(), Error> {
    match result {
        Err(Error::NotFound(_)) => Err(Error::InvalidUnsubscribeToken),
        other => other.map(|_| ()),
    }
}

#[async_trait(?Send)]
impl<S: ReminderStore, T: TokenCodec, C: Clock> ReminderUseCases for ReminderService<S, T, C> {
    async fn settings(&self, user: UserId) -> Result<ReminderSettings, Error> {
        self.store.settings(user).await
    }

    async fn update_settings(&self, user: UserId, input: SettingsInput) -> Result<ReminderSettings, Error> {
        let patch = SettingsPatch::parse(input)?;
        self.store.update_settings(user, patch).await
    }

    async fn check_unsubscribe(&self, token: &str) -> Result<(), Error> {
        let claims = self.unsubscribe_claims(token)?;
        gone_is_invalid(self.store.settings(claims.subject).await)
    }

    async fn unsubscribe(&self, token: &str) -> Result<(), Error> {
        let claims = self.unsubscribe_claims(token)?;
        let off = SettingsPatch { birthday_reminders: Some(false), ..SettingsPatch::default() };
        gone_is_invalid(self.store.update_settings(claims.subject, off).await)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::*;
    use crate::auth::MockTokenCodec;
    use crate::clock::MockClock;
    use crate::reminders::MockReminderStore;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z").unwrap().with_timezone(&Utc)
    }

    /// A codec that knows one token, "GOOD", of `kind`, expiring at `expires_at`.
    fn codec(kind: TokenKind, expires_at: DateTime<Utc>) -> MockTokenCodec {
        let mut tokens = MockTokenCodec::new();
        tokens.expect_decode().returning(move |token, _| {
            (token == "GOOD").then(|| Claims {
                subject: UserId(7),
                kind,
                issued_at: now() - Duration::days(1),
                expires_at,
                version: 0,
                session: None,
            })
        });
        tokens
    }

    fn service(
        store: MockReminderStore,
        tokens: MockTokenCodec,
    ) -> ReminderService<MockReminderStore, MockTokenCodec, MockClock> {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        ReminderService::new(store, tokens, clock)
    }

    #[tokio::test]
    async fn a_good_token_turns_reminders_off_and_nothing_else() {
        let mut store = MockReminderStore::new();
        store
            .expect_update_settings()
            .withf(|user, patch| {
                *user == UserId(7)
                    && *patch == SettingsPatch { birthday_reminders: Some(false), ..SettingsPatch::default() }
            })
            .times(1)
            .returning(|_, patch| Ok(patch.apply(ReminderSettings::default())));
        let reminders = service(store, codec(TokenKind::ReminderUnsubscribe, now() + Duration::days(1)));
        reminders.unsubscribe("GOOD").await.unwrap();
    }

    #[tokio::test]
    async fn bad_expired_or_other_kind_tokens_change_nothing() {
        for (token, kind, expires_at) in [
            ("FORGED", TokenKind::ReminderUnsubscribe, now() + Duration::days(1)),
            ("GOOD", TokenKind::ReminderUnsubscribe, now() - Duration::seconds(1)),
            ("GOOD", TokenKind::PasswordReset, now() + Duration::days(1)),
        ] {
            // The store has no expectations: any call would panic.
            let reminders = service(MockReminderStore::new(), codec(kind, expires_at));
            assert!(matches!(reminders.unsubscribe(token).await, Err(Error::InvalidUnsubscribeToken)), "{token}");
            assert!(matches!(reminders.check_unsubscribe(token).await, Err(Error::InvalidUnsubscribeToken)));
        }
    }

    #[tokio::test]
    async fn a_token_of_a_deleted_user_is_invalid() {
        let mut store = MockReminderStore::new();
        store.expect_settings().returning(|_| Err(Error::NotFound("User not found")));
        store.expect_update_settings().returning(|_, _| Err(Error::NotFound("User not found")));
        let reminders = service(store, codec(TokenKind::ReminderUnsubscribe, now() + Duration::days(1)));
        assert!(matches!(reminders.check_unsubscribe("GOOD").await, Err(Error::InvalidUnsubscribeToken)));
        assert!(matches!(reminders.unsubscribe("GOOD").await, Err(Error::InvalidUnsubscribeToken)));
    }

    #[tokio::test]
    async fn checking_a_token_reads_only() {
        let mut store = MockReminderStore::new();
        store.expect_settings().times(1).returning(|_| Ok(ReminderSettings::default()));
        let reminders = service(store, codec(TokenKind::ReminderUnsubscribe, now() + Duration::days(1)));
        reminders.check_unsubscribe("GOOD").await.unwrap();
    }

    #[tokio::test]
    async fn an_invalid_change_never_reaches_the_store() {
        let reminders = service(MockReminderStore::new(), MockTokenCodec::new());
        let input = SettingsInput { reminder_hour: Some(24), ..SettingsInput::default() };
        let Err(Error::Invalid(problems)) = reminders.update_settings(UserId(7), input).await else {
            panic!("accepted")
        };
        assert_eq!(problems[0].field(), "reminder_hour");
    }
}
