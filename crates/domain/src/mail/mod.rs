//! Mail: what the service sends (templates as plain data), the links mails carry, and how it
//! is delivered. Use cases queue mails through [`MailOutbox`] in the same transaction as the
//! change that caused them; a [`DeliveryWorker`] in every instance sends them through the
//! [`Mailer`] port, retrying with growing pauses. Authentication uses it today; any feature that
//! mails users (reminders) uses the same outbox and templates module.

mod delivery;
mod links;
mod outbox;
mod ports;
mod templates;

#[cfg(any(test, feature = "mocks"))]
pub use delivery::MockDeliveryQueue;
pub use delivery::{Attempt, DeliveryQueue, DeliverySettings, DeliveryWorker, QueuedMail, retry_delay};
pub use links::{LinkPaths, Links};
#[cfg(any(test, feature = "mocks"))]
pub use outbox::MockMailOutbox;
pub use outbox::{MAIL_REQUEST_LEASE_SECONDS, MailComposer, MailEffect, MailKind, MailOutbox, MailRequest};
pub use ports::Mailer;
#[cfg(any(test, feature = "mocks"))]
pub use ports::MockMailer;
pub use templates::{Email, escape_html};
