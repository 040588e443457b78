//! Birthday reminders: the user's settings (`/api/users/me/settings`) and the one-click
//! unsubscribe link of every digest (`/api/reminders/unsubscribe`, RFC 8058).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use contacts_domain::Error;
use contacts_domain::mail::escape_html;
use contacts_domain::reminders::{ReminderSettings, SettingsInput};

use super::html_page::page;
use crate::dto::{ErrorBody, Input, MessageBody, read_through};
use crate::error::ApiError;
use crate::extract::{CurrentUser, LinkToken, ValidJson};
use crate::state::AppState;

/// Where a digest's unsubscribe link points (the token in its query); the page's form posts
/// there too. The route is `/unsubscribe` in the `/api/reminders` scope.
pub const UNSUBSCRIBE_PATH: &str = "/api/reminders/unsubscribe";

/// `/api/reminders/...`. The settings (`/me/settings`) are in the users' scope.
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/unsubscribe").get(unsubscribe_page).post(unsubscribe));
}

/// A user's reminder settings.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReminderSettingsBody {
    /// IANA time zone the day and hour are counted in.
    #[schema(example = "Europe/Paris")]
    timezone: &'static str,
    /// Whether the daily digest is sent.
    birthday_reminders: bool,
    /// Days looked ahead after today (0: today only).
    #[schema(minimum = 0, maximum = 30)]
    reminder_days: u32,
    /// Local hour of the digest.
    #[schema(minimum = 0, maximum = 23)]
    reminder_hour: u32,
}

impl From<ReminderSettings> for ReminderSettingsBody {
    fn from(s: ReminderSettings) -> Self {
        Self {
            timezone: s.timezone.name(),
            birthday_reminders: s.birthday_reminders,
            reminder_days: s.reminder_days.get(),
            reminder_hour: s.reminder_hour.get(),
        }
    }
}

/// A change of any of the settings; absent fields keep their value (`null` is refused).
#[derive(Deserialize, ToSchema)]
#[serde(remote = "SettingsInput")]
pub(crate) struct ReminderSettingsPatch {
    /// An IANA time zone name, such as `Europe/Paris`.
    #[schema(required = false, value_type = String, example = "Europe/Paris")]
    #[serde(default, deserialize_with = "not_null")]
    timezone: Option<String>,
    #[schema(required = false, value_type = bool)]
    #[serde(default, deserialize_with = "not_null")]
    birthday_reminders: Option<bool>,
    #[schema(required = false, value_type = i64, minimum = 0, maximum = 30)]
    #[serde(default, deserialize_with = "whole_number")]
    reminder_days: Option<i64>,
    #[schema(required = false, value_type = i64, minimum = 0, maximum = 23)]
    #[serde(default, deserialize_with = "whole_number")]
    reminder_hour: Option<i64>,
}

/// A present field must hold a value: `null` is a type error located at the field.
fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// A present integer field: a whole number, also when written with a fraction of zero (`9.0`),
/// as JSON Schema's `integer` (and FastAPI) count it; `null`, `9.5` or `"9"` is a type error
/// located at the field.
fn whole_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    /// Takes any JSON number that is a whole number within `i64`.
    struct Whole;

    impl serde::de::Visitor<'_> for Whole {
        type Value = i64;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer")
        }

        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }

        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::invalid_value(serde::de::Unexpected::Unsigned(v), &self))
        }

        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            // Within ±2^63 every f64 with no fraction converts exactly.
            let whole = v.fract() == 0.0 && v >= -(2f64.powi(63)) && v < 2f64.powi(63);
            if whole { Ok(v as i64) } else { Err(E::invalid_type(serde::de::Unexpected::Float(v), &self)) }
        }
    }

    deserializer.deserialize_any(Whole).map(Some)
}

read_through!(ReminderSettingsPatch => SettingsInput);

#[utoipa::path(
    get, path = "/api/users/me/settings", tag = "users",
    responses((status = 200, description = "The birthday reminder settings", body = ReminderSettingsBody)),
)]
pub(crate) async fn settings(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, ApiError> {
    let settings = state.reminders.settings(user.0.id).await?;
    Ok(HttpResponse::Ok().json(ReminderSettingsBody::from(settings)))
}

/// Changes any of the settings; a new time zone or hour takes effect from the next pass.
#[utoipa::path(
    patch, path = "/api/users/me/settings", tag = "users", request_body = ReminderSettingsPatch,
    responses(
        (status = 200, description = "The settings after the change", body = ReminderSettingsBody),
        (
            status = 422, body = crate::dto::ValidationErrorBody,
            description = "An unknown time zone, `reminder_days` outside 0–30 or `reminder_hour` outside 0–23, \
                           located at the field",
        ),
    ),
)]
pub(crate) async fn update_settings(
    state: web::Data<AppState>,
    user: CurrentUser,
    body: ValidJson<Input<SettingsInput>>,
) -> Result<HttpResponse, ApiError> {
    let settings = state.reminders.update_settings(user.0.id, body.into_inner().into_inner()).await?;
    Ok(HttpResponse::Ok().json(ReminderSettingsBody::from(settings)))
}

/// The page a digest's unsubscribe link opens: it changes nothing, and offers a button (a
/// plain form, no JavaScript) that posts to the same address.
#[utoipa::path(
    get, path = "/api/reminders/unsubscribe", tag = "reminders", params(("token" = Option<String>, Query, description = "The token from the digest's link")),
    responses(
        (status = 200, description = "A page with a button that turns reminders off", content_type = "text/html", body = String),
        (status = 400, description = "A bad or expired token", content_type = "text/html", body = String),
    ),
)]
pub(crate) async fn unsubscribe_page(
    state: web::Data<AppState>,
    LinkToken(token): LinkToken,
) -> Result<HttpResponse, ApiError> {
    match state.reminders.check_unsubscribe(&token).await {
        Ok(()) => Ok(page(
            StatusCode::OK,
            "Birthday reminders",
            &format!(
                "<p>Stop the daily mail about upcoming birthdays? You can turn it on again in your settings.</p>\
                 <form method=\"post\" action=\"unsubscribe?{query}\">\
                 <button type=\"submit\">Unsubscribe</button></form>",
                query = escape_html(&serde_urlencoded::to_string([("token", &token)]).unwrap_or_default()),
            ),
        )),
        Err(Error::InvalidUnsubscribeToken) => Ok(invalid_link_page()),
        Err(error) => Err(error.into()),
    }
}

/// Turns reminders off. Mail clients post here on their own (RFC 8058 one-click, the body is
/// `List-Unsubscribe=One-Click` and is not needed); a browser posting the page's form gets a
/// page back, anyone else JSON.
#[utoipa::path(
    post, path = "/api/reminders/unsubscribe", tag = "reminders", params(("token" = Option<String>, Query, description = "The token from the digest's link")),
    responses(
        (status = 200, description = "Reminders are off (a page for browsers)", body = MessageBody),
        (status = 400, description = "A bad or expired token; nothing changed", body = ErrorBody),
    ),
)]
pub(crate) async fn unsubscribe(
    state: web::Data<AppState>,
    request: HttpRequest,
    LinkToken(token): LinkToken,
) -> Result<HttpResponse, ApiError> {
    let outcome = state.reminders.unsubscribe(&token).await;
    if !wants_html(request.headers()) {
        outcome?;
        return Ok(HttpResponse::Ok().json(MessageBody::new("Birthday reminders are off")));
    }
    match outcome {
        Ok(()) => Ok(page(
            StatusCode::OK,
            "Unsubscribed",
            "<p>You will get no more birthday reminders. You can turn them on again in your settings.</p>",
        )),
        Err(Error::InvalidUnsubscribeToken) => Ok(invalid_link_page()),
        Err(error) => Err(error.into()),
    }
}

fn invalid_link_page() -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        "Link expired",
        "<p class=\"error\">This unsubscribe link is invalid or has expired. \
         You can turn reminders off in your settings.</p>",
    )
}

/// Whether the client asked for HTML first (a browser submitting the page's form).
fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .and_then(|accept| accept.split(',').next())
        .is_some_and(|first| first.trim().starts_with("text/html"))
}
