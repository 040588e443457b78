//! Mail delivery through an outbox: use cases queue mails (in the same transaction as the change
//! that caused them) through [`MailOutbox`], and a [`DeliveryWorker`] in every instance sends
//! them through the [`Mailer`](crate::auth::Mailer), retrying with growing pauses.

mod delivery;
mod outbox;

#[cfg(any(test, feature = "mocks"))]
pub use delivery::MockDeliveryQueue;
pub use delivery::{DeliveryQueue, DeliverySettings, DeliveryWorker, QueuedMail, retry_delay};
#[cfg(any(test, feature = "mocks"))]
pub use outbox::MockMailOutbox;
pub use outbox::{MailComposer, MailEffect, MailKind, MailOutbox};
