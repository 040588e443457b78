//! The actix-web inbound adapter: routes, extractors, request/response DTOs and the one place
//! that maps errors to HTTP. Handlers are thin: parse, call a domain service, map the result.
#![deny(missing_docs)]

mod after_answer;
mod body_deadline;
mod card_work;
mod client_address;
mod dto;
mod error;
mod extract;
mod gzip;
mod kept_answers;
mod long_pages;
mod middleware;
mod openapi;
mod problems;
mod routes;
mod state;
mod streamed;

pub use body_deadline::{BODY_TIMEOUT, body_deadline};
pub use card_work::{CardWork, CardWorkError};
pub use client_address::{InvalidProxy, TrustedProxies, client_address};
pub use error::{ApiError, Part};
pub use extract::{Admin, CurrentUser};
pub use kept_answers::KeptAnswers;
pub use long_pages::{LongPages, Turn};
pub use middleware::{REQUEST_ID, redacted_path, security_headers};
pub use openapi::{ApiDoc, openapi_json};
pub use routes::app_passwords::{APP_PASSWORDS_PATH, AppPasswords, configure_app_passwords};
pub use routes::configure;
pub use routes::{CONFIRM_EMAIL_PATH, RESET_PASSWORD_PAGE, link_paths};
pub use routes::{cors, cors_refusals};
pub use state::AppState;
