//! [`ReminderPass`]: one pass over the users whose digest is due, shared safely by every
//! instance: the store claims users with a lease, and records each (user, local date) once.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::digest::{BirthdayContact, digest_entries, reminder_digest};
use super::schedule::{hour_of_the_day, next_run_after};
use super::settings::{ReminderSettings, SettingsPatch};
use crate::EmailAddress;
use crate::auth::{Claims, TokenCodec, TokenKind};
use crate::clock::Clock;
use crate::contact::{MonthDay, birthday_window};
use crate::error::Error;
use crate::mail::{Email, Links};
use crate::user::UserId;

/// A user the store handed to this pass: their next run time had come.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueUser {
    /// Who.
    pub id: UserId,
    /// Where the digest goes.
    pub email: EmailAddress,
    /// The name the digest greets.
    pub username: String,
    /// Only confirmed users get mail.
    pub confirmed: bool,
    /// Their settings.
    pub settings: ReminderSettings,
    /// Which change of the settings these are: the pass completes the user's day only if they
    /// have not changed since (see [`ReminderStore::complete`]).
    pub revision: i64,
}

/// The store's side of reminders. Shared by every instance.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ReminderStore: Send + Sync + 'static {
    /// Claims up to `limit` users with reminders on whose next run time is at or before
    /// `now`, and moves that time to `now + lease` in the same statement (skipping rows others
    /// hold): if this instance dies, the users come back when the lease runs out.
    async fn claim_due(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<DueUser>, Error>;

    /// The user's contacts whose birthday falls on one of `days`.
    async fn birthdays(&self, user: UserId, days: &[MonthDay]) -> Result<Vec<BirthdayContact>, Error>;

    /// In one transaction: records the run of `user` for `local_date` (unless one exists),
    /// queues `mail` if it recorded it, and sets the user's next run time to `next_run`.
    /// `true` when the mail was queued. Nothing is done when the user's settings are no longer
    /// at `revision` (the one the claim read), the user confirmed since the claim, or
    /// reminders are off: the next pass looks again with what holds now.
    async fn complete(
        &self,
        user: UserId,
        revision: i64,
        local_date: NaiveDate,
        mail: Option<Email>,
        next_run: DateTime<Utc>,
    ) -> Result<bool, Error>;

    /// Sets the user's next run time without recording a run (not yet their hour, or not
    /// confirmed), unless the settings changed since the claim (see [`Self::complete`]).
    async fn reschedule(&self, user: UserId, next_run: DateTime<Utc>) -> Result<(), Error>;

    /// The user's settings (`NotFound` for an unknown user).
    async fn settings(&self, user: UserId) -> Result<ReminderSettings, Error>;

    /// Applies `patch` atomically and returns the resulting settings; the user becomes due for
    /// a fresh look by the next pass.
    async fn update_settings(&self, user: UserId, patch: SettingsPatch) -> Result<ReminderSettings, Error>;
}

/// How long an unsubscribe link works: long enough to outlive the mail in an inbox.
const UNSUBSCRIBE_TTL: Duration = Duration::days(90);
/// How long a claim holds a user.
const LEASE: Duration = Duration::minutes(5);
/// Users claimed at once.
const BATCH: i64 = 100;

/// Runs reminder passes.
#[derive(Debug, Clone)]
pub struct ReminderPass<S, T, C> {
    store: S,
    tokens: T,
    clock: C,
    links: Links,
}

impl<S, T, C> ReminderPass<S, T, C>
where
    S: ReminderStore,
    T: TokenCodec,
    C: Clock,
{
    /// A pass over these ports; `links` makes the digests' unsubscribe links.
    pub fn new(store: S, tokens: T, clock: C, links: Links) -> Self {
        Self { store, tokens, clock, links }
    }

    /// One pass at the clock's time; returns how many mails it queued.
    pub async fn run(&self) -> Result<u64, Error> {
        self.run_at(self.clock.now()).await
    }

    /// One pass as if the clock said `now`; returns how many mails it queued.
    ///
    /// A pass ahead of the clock (`send-reminders --at` a later time, to try a time zone out)
    /// does not put the users' real digests off until then: once it is done, each user it
    /// looked at is due again from their hour of the real today (the run recorded per local
    /// date keeps that from mailing twice; until then their next run stays past the pass's
    /// time, so the pass does not take them twice). Unsubscribe links are signed at the real
    /// time, so a pass for a past time mails links that work.
    pub async fn run_at(&self, now: DateTime<Utc>) -> Result<u64, Error> {
        let real = self.clock.now();
        let mut queued = 0;
        let mut ahead_of_the_clock = Vec::new();
        loop {
            let batch = self.store.claim_due(now, LEASE, BATCH).await?;
            if batch.is_empty() {
                break;
            }
            for user in batch {
                if self.remind(&user, now, real).await? {
                    queued += 1;
                }
                if now > real {
                    ahead_of_the_clock.push((user.id, hour_of_the_day(&user.settings, real)));
                }
            }
        }
        for (user, due_again) in ahead_of_the_clock {
            self.store.reschedule(user, due_again).await?;
        }
        Ok(queued)
    }

    async fn remind(&self, user: &DueUser, now: DateTime<Utc>, real: DateTime<Utc>) -> Result<bool, Error> {
        let next_run = next_run_after(&user.settings, now);
        let Some(today) = user.settings.due_date(now).filter(|_| user.confirmed) else {
            self.store.reschedule(user.id, next_run).await?;
            return Ok(false);
        };
        let days = user.settings.reminder_days.get();
        let contacts = self.store.birthdays(user.id, &birthday_window(today, days)).await?;
        let entries = digest_entries(&contacts, today, days);
        let mail = if entries.is_empty() {
            None
        } else {
            let link = self.links.unsubscribe_reminders(&self.unsubscribe_token(user, real)?);
            Some(reminder_digest(user.email.clone(), &user.username, today, &entries, &link))
        };
        self.store.complete(user.id, user.revision, today, mail, next_run).await
    }

    fn unsubscribe_token(&self, user: &DueUser, real: DateTime<Utc>) -> Result<String, Error> {
        self.tokens.encode(&Claims {
            subject: user.id,
            kind: TokenKind::ReminderUnsubscribe,
            issued_at: real,
            expires_at: real + UNSUBSCRIBE_TTL,
            version: 0,
            session: None,
        })
    }
}

#[cfg(test)]
mod tests;
