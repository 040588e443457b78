//! Birthday reminders: each user's settings (time zone, on/off, days ahead, hour), when a user
//! is due, the digest mail, and the pass that queues one digest per user and local day.
//!
//! "Once per user and local day" is the store's job (a row keyed by user and local date); this
//! module decides who is due and what the mail says.

mod digest;
mod pass;
mod schedule;
mod settings;
mod use_cases;

pub use digest::{BirthdayContact, DIGEST_SUBJECT, DigestEntry, digest_entries, reminder_digest};
#[cfg(any(test, feature = "mocks"))]
pub use pass::MockReminderStore;
pub use pass::{DueUser, ReminderPass, ReminderStore};
pub use schedule::{LocalMoment, instant_at, local_moment, next_run_after};
pub use settings::{ReminderDays, ReminderHour, ReminderSettings, SettingsInput, SettingsPatch, TimeZoneName};
#[cfg(any(test, feature = "mocks"))]
pub use use_cases::MockReminderUseCases;
pub use use_cases::{ReminderService, ReminderUseCases};
