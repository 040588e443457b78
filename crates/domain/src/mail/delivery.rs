//! [`DeliveryWorker`]: sends queued mails, retrying failures with growing pauses until the
//! retry window has passed, then gives them up (kept as failed, logged).

use chrono::{DateTime, Duration, Utc};

use super::outbox::MailKind;
use super::{Email, Mailer};
use crate::clock::Clock;
use crate::error::Error;

/// A mail claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    /// The outbox row.
    pub id: i64,
    /// What it is for.
    pub kind: MailKind,
    /// The mail itself.
    pub email: Email,
    /// Attempts made so far, this one included (the claim counts it).
    pub attempts: i32,
    /// When it was queued: the retry window starts here.
    pub created_at: DateTime<Utc>,
}

/// The worker's side of the outbox. Shared by every instance: a claim is exclusive.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait DeliveryQueue: Send + Sync + 'static {
    /// Claims up to `limit` pending mails due at `now` that no one else holds, and leases them
    /// for `lease`, in one statement: nobody else can claim them before the lease runs out,
    /// which it only does if this worker died while sending. Leases are timed by the store's
    /// clock, shared by every instance, never by `now`: instances whose clocks disagree must
    /// still agree on who holds a mail.
    async fn claim(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<QueuedMail>, Error>;

    /// Holds one claimed mail for `lease` more (by the store's clock), just before it is sent:
    /// a batch's lease covers its first sends, not twenty slow ones. `false` when the claim was
    /// lost (its lease ran out and another instance claimed the mail): then it must not be sent.
    async fn hold(&self, mail: &QueuedMail, lease: Duration) -> Result<bool, Error>;

    /// Marks the claimed mail sent and forgets its text, headers included: the links in it
    /// carry live tokens (a reset's, an unsubscribe's), which the database keeps only as long as
    /// the mail waits to go. `false` when the claim was lost (the lease ran out and another
    /// worker took it).
    async fn mark_sent(&self, mail: &QueuedMail, now: DateTime<Utc>) -> Result<bool, Error>;

    /// Schedules another attempt at `at`, remembering why this one failed.
    async fn retry_at(&self, mail: &QueuedMail, at: DateTime<Utc>, error: &str) -> Result<(), Error>;

    /// Gives the mail up: it stays in the outbox as failed, its text forgotten as a sent one's.
    async fn give_up(&self, mail: &QueuedMail, error: &str) -> Result<(), Error>;

    /// Deletes sent and failed mails queued before `before` and flood-guard counts of past
    /// days; returns how many mails went.
    async fn purge(&self, before: DateTime<Utc>) -> Result<u64, Error>;

    /// How many mails wait to be sent (due or not), for the operators' outbox gauge.
    async fn pending(&self) -> Result<u64, Error>;
}

/// One attempt at sending a claimed mail, as the worker reports it: the metrics count these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// What the mail was for.
    pub kind: MailKind,
    /// Whether the mail server took it (a failure is retried later, or given up).
    pub sent: bool,
}

/// How the worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// How long a failing mail is retried, counted from when it was queued.
    pub retry_window: Duration,
    /// How long a claim holds a mail, renewed just before each send; longer than any one send
    /// may take (the SMTP mailer gives one up after 3 minutes).
    pub lease: Duration,
    /// Mails claimed at once.
    pub batch: i64,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self { retry_window: Duration::hours(24), lease: Duration::minutes(4), batch: 20 }
    }
}

/// The first pause after a failure; it doubles with every attempt.
const FIRST_RETRY: Duration = Duration::seconds(5);
/// The longest pause between two attempts.
const LONGEST_RETRY: Duration = Duration::minutes(10);

/// The pause after the `attempts`-th failed attempt: 5 s, 10 s, 20 s… capped at 10 min.
pub fn retry_delay(attempts: i32) -> Duration {
    let doublings = attempts.saturating_sub(1).clamp(0, 16) as u32;
    let delay = FIRST_RETRY * 2i32.pow(doublings);
    delay.min(LONGEST_RETRY)
}

/// Sends what the queue holds through the mailer; one instance per process, driven by a loop
/// that wakes when a mail is queued and polls now and then for other instances' mails.
#[derive(Debug, Clone)]
pub struct DeliveryWorker<Q, M, C> {
    queue: Q,
    mailer: M,
    clock: C,
    settings: DeliverySettings,
}

impl<Q, M, C> DeliveryWorker<Q, M, C>
where
    Q: DeliveryQueue,
    M: Mailer,
    C: Clock,
{
    /// A worker on these ports.
    pub fn new(queue: Q, mailer: M, clock: C, settings: DeliverySettings) -> Self {
        Self { queue, mailer, clock, settings }
    }

    /// Claims one batch of due mails and tries each once; returns the attempts (empty when
    /// nothing was due), so the caller can count them and knows whether to go on at once.
    pub async fn deliver_due(&self) -> Result<Vec<Attempt>, Error> {
        let now = self.clock.now();
        let batch = self.queue.claim(now, self.settings.lease, self.settings.batch).await?;
        let mut attempts = Vec::with_capacity(batch.len());
        for mail in batch {
            let kind = mail.kind;
            // Each send is bounded by the mailer (well under the lease), so a mail held here
            // is still this instance's when the mail server takes it.
            if !self.queue.hold(&mail, self.settings.lease).await? {
                tracing::warn!(mail_id = mail.id, "a mail's claim ran out before it was sent; another instance has it");
                continue;
            }
            attempts.push(Attempt { kind, sent: self.deliver(mail).await? });
        }
        Ok(attempts)
    }

    /// How many mails wait in the outbox.
    pub async fn pending(&self) -> Result<u64, Error> {
        self.queue.pending().await
    }

    /// Forgets sent and failed mails older than a week, and past days' flood-guard counts.
    pub async fn purge(&self) -> Result<u64, Error> {
        self.queue.purge(self.clock.now() - Duration::days(7)).await
    }

    /// One attempt; `true` when the mail server took the mail.
    async fn deliver(&self, mail: QueuedMail) -> Result<bool, Error> {
        let key = format!("{}.{}", mail.id, mail.created_at.timestamp_micros());
        match self.mailer.send(mail.email.clone(), &key).await {
            Ok(()) => {
                if !self.queue.mark_sent(&mail, self.clock.now()).await? {
                    tracing::warn!(mail_id = mail.id, "a mail's claim ran out while it was being sent");
                }
                tracing::info!(mail_id = mail.id, kind = mail.kind.as_str(), "mail sent");
                Ok(true)
            }
            Err(error) => {
                let reason = crate::error::chain(&error);
                let next = self.clock.now() + retry_delay(mail.attempts);
                if next > mail.created_at + self.settings.retry_window {
                    tracing::error!(
                        mail_id = mail.id,
                        kind = mail.kind.as_str(),
                        attempts = mail.attempts,
                        error = %reason,
                        "giving up a mail after its retry window"
                    );
                    self.queue.give_up(&mail, &reason).await?;
                } else {
                    tracing::warn!(
                        mail_id = mail.id,
                        kind = mail.kind.as_str(),
                        attempts = mail.attempts,
                        retry_at = %next,
                        error = %reason,
                        "could not send a mail; will retry"
                    );
                    self.queue.retry_at(&mail, next, &reason).await?;
                }
                Ok(false)
            }
        }
    }
}

#[cfg(test)]
mod tests;
