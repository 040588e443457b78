//! Mail: what the service sends (templates as plain data), the port that delivers it, and the
//! links mails carry. Authentication uses it today; any feature that mails users (reminders)
//! uses the same port and templates module.

mod links;
mod ports;
mod templates;

pub use links::{LinkPaths, Links};
pub use ports::Mailer;
#[cfg(any(test, feature = "mocks"))]
pub use ports::MockMailer;
pub use templates::{Email, escape_html};
