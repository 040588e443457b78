//! [`MailOutbox`]: the port use cases queue mails through.

use chrono::{DateTime, Duration, Utc};

use super::Email;
use crate::EmailAddress;
use crate::error::Error;
use crate::user::{NewUser, User, UserId};

/// What a queued mail is for; kept with the row for the logs and for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    /// The link that confirms a new account's address.
    Confirmation,
    /// A password-reset link.
    PasswordReset,
    /// A daily digest of upcoming birthdays; not subject to the flood guard (at most one a day
    /// by construction, and nobody but the account's owner can cause it).
    BirthdayReminder,
}

impl MailKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmation => "confirmation",
            Self::PasswordReset => "password_reset",
            Self::BirthdayReminder => "birthday_reminder",
        }
    }

    /// The kind with this stored name, if any.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "confirmation" => Some(Self::Confirmation),
            "password_reset" => Some(Self::PasswordReset),
            "birthday_reminder" => Some(Self::BirthdayReminder),
            _ => None,
        }
    }
}

/// A change that must happen only together with the mail it announces (in one transaction),
/// and only if the flood guard lets the mail through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailEffect {
    /// Nothing besides the mail.
    None,
    /// Remember a password-reset token, by fingerprint.
    StoreReset {
        /// Whose token it is.
        user: UserId,
        /// The token's fingerprint.
        fingerprint: String,
        /// When it expires.
        expires_at: DateTime<Utc>,
    },
}

/// A request for a mail about an address (`request_email`, `request_password_reset`),
/// recorded before it is answered and handled after: the answer takes the same time whatever
/// the address, and an instance that dies in between leaves the request to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    /// Its id, to forget it once handled.
    pub id: i64,
    /// The mail asked for ([`MailKind::Confirmation`] or [`MailKind::PasswordReset`]).
    pub kind: MailKind,
    /// The address it was asked for, as parsed.
    pub address: EmailAddress,
}

/// How long a recorded request is left to the instance that answered it before any instance
/// may take it up (the one that answered died), and how long a claim of one holds.
pub const MAIL_REQUEST_LEASE_SECONDS: i64 = 60;

/// Builds the mail for a user that only exists once stored (its id goes into the link).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait MailComposer: Send + Sync {
    /// The mail for the freshly stored `user`.
    fn compose(&self, user: &User) -> Result<Email, Error>;
}

/// Queues mails for delivery, applying the flood guard (at most one mail per address per
/// cooldown, a daily cap per address) atomically with the insert, so concurrent requests
/// cannot exceed it. A mail held back by the guard is not an error: the caller answers as
/// usual and nothing is sent.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait MailOutbox: Send + Sync + 'static {
    /// Stores a new account and queues the mail `composer` builds for it, in one transaction;
    /// the account is stored even when the guard holds the mail back.
    async fn register(&self, new_user: NewUser, composer: &dyn MailComposer) -> Result<User, Error>;

    /// Queues `email` and applies `effect`, in one transaction; `false` (and no effect) when
    /// the flood guard held the mail back.
    async fn queue(&self, kind: MailKind, email: Email, effect: MailEffect) -> Result<bool, Error>;

    /// Does the same work as [`MailOutbox::queue`] for an address that gets no mail (unknown,
    /// or already confirmed) and changes nothing anyone can see, so the answer takes as long
    /// either way and reveals nothing.
    async fn queue_nothing(&self, address: &EmailAddress) -> Result<(), Error>;

    /// Records a request for a mail of `kind` to `address`, held for the instance that records
    /// it for [`MAIL_REQUEST_LEASE_SECONDS`]. One insert, whatever the address.
    async fn record_request(&self, kind: MailKind, address: &EmailAddress) -> Result<MailRequest, Error>;

    /// Forgets a handled request.
    async fn request_handled(&self, id: i64) -> Result<(), Error>;

    /// Claims up to `limit` recorded requests nobody holds (their instance died before it
    /// handled them), leasing each for `lease` (`FOR UPDATE SKIP LOCKED`: two instances never
    /// take one), as mails to send are claimed; requests more than an hour older than `now` are
    /// dropped instead, as a link asked for that long ago is no longer awaited.
    async fn claim_requests(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<MailRequest>, Error>;
}
