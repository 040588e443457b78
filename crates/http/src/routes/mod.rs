//! The route table: every path of the REST contract and the handler behind it.

pub(crate) mod app_passwords;
pub(crate) mod auth;
pub(crate) mod contacts;
pub(crate) mod health;
mod html_page;
mod media;
pub(crate) mod reminders;
mod reset_page;
pub(crate) mod users;
pub(crate) mod vcards;

use std::sync::{Mutex, PoisonError};

use actix_cors::Cors;
use actix_web::http::{Method, header};
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::web::{self, Bytes, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use chrono::{NaiveDate, Utc};

use contacts_domain::Error;
use contacts_domain::mail::LinkPaths;
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::{ApiError, Part, cors_refusal_with_detail, json_error, with_detail};
use crate::middleware::{head_as_get, refuse_encoded_bodies};
use crate::openapi::ApiDoc;
use crate::state::AppState;

/// Where a confirmation link lands: the route of `auth::confirmed_email`, with the token as
/// `{token}`. Mails link here (see [`link_paths`]) and the access log masks the token; a
/// handler test checks that it reaches the handler.
pub const CONFIRM_EMAIL_PATH: &str = "/api/auth/confirmed_email/{token}";

/// The password-reset page a reset mail links to, with the token as `{token}`.
pub const RESET_PASSWORD_PAGE: &str = "/reset-password?token={token}";

/// The routes mails link to, for building the domain's [`Links`](contacts_domain::mail::Links):
/// this crate owns the routes, the domain only fills in tokens.
pub fn link_paths() -> LinkPaths {
    LinkPaths {
        confirm_email: CONFIRM_EMAIL_PATH.to_owned(),
        reset_password: RESET_PASSWORD_PAGE.to_owned(),
        unsubscribe_reminders: format!("{}?token={{token}}", reminders::UNSUBSCRIBE_PATH),
    }
}

/// Largest JSON (or form) body accepted; larger ones get `413`.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Registers the whole API on an actix `App`: shared state, body limits, error shapes, routes
/// and the JSON `404` for unknown paths.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        // The app's own default too: a nested scope (`/api/auth`) with no match uses the app's.
        cfg.default_service(web::to(not_found));
        cfg.app_data(state)
            .app_data(web::JsonConfig::default().limit(MAX_BODY_BYTES).error_handler(json_error))
            .app_data(web::FormConfig::default().limit(MAX_BODY_BYTES))
            .app_data(web::PayloadConfig::default().limit(MAX_BODY_BYTES))
            .app_data(web::QueryConfig::default().error_handler(|e, _| {
                ApiError::Unparsable { part: Part::Query, path: Vec::new(), message: e.to_string(), kind: "parsing" }
                    .into()
            }))
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::unparsable_field(Part::Path, "contact_id", e.to_string()).into()),
            )
            .service(
                web::scope("")
                    .wrap(ErrorHandlers::new().default_handler(with_detail))
                    .wrap(from_fn(head_as_get))
                    .wrap(from_fn(refuse_encoded_bodies))
                    .configure(health::routes)
                    .configure(reset_page::routes)
                    .configure(media::routes)
                    .service(docs())
                    .route(OPENAPI_PATH, web::get().to(openapi_document))
                    .service(web::resource("/docs").get(|| async {
                        actix_web::HttpResponse::PermanentRedirect()
                            .insert_header((header::LOCATION, "/docs/"))
                            .finish()
                    }))
                    .service(web::scope("/api/auth").configure(auth::routes))
                    .service(web::scope("/api/users").configure(users::routes))
                    .service(web::scope("/api/contacts").configure(contacts::routes))
                    .service(web::scope("/api/reminders").configure(reminders::routes))
                    .default_service(web::to(not_found)),
            );
    }
}

/// No route: `404`, unless only a trailing slash is in the way (`/api/users/me/`), which is
/// `307` to the path without it, as FastAPI (`redirect_slashes`) answers, so a client written
/// against it with such paths keeps working; `307` keeps the method and the body.
async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    let trimmed = path.strip_suffix('/').filter(|p| p.starts_with('/') && !p.starts_with("//"));
    match trimmed {
        Some(trimmed) if req.resource_map().has_resource(trimmed) => {
            let location = match req.query_string() {
                "" => trimmed.to_owned(),
                query => format!("{trimmed}?{query}"),
            };
            Ok(HttpResponse::TemporaryRedirect().insert_header((header::LOCATION, location)).finish())
        }
        _ => Err(ApiError::RouteNotFound),
    }
}

/// Swagger UI under `/docs/`, every asset from the binary, reading the document at
/// `/openapi.json` ([`openapi_document`]). Its spec validator is off: by default it shows a
/// badge loaded from validator.swagger.io, and the docs must work offline.
fn docs() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").config(Config::from(OPENAPI_PATH).validator_url("none"))
}

/// Where the OpenAPI document is served.
const OPENAPI_PATH: &str = "/openapi.json";

/// The OpenAPI document of the current UTC day, as JSON, made by the day's first request.
static DOCUMENT: Mutex<Option<(NaiveDate, Bytes)>> = Mutex::new(None);

/// The OpenAPI document. Its input rules hold a date (a birthday is at most today), so a
/// document made once at start would go stale while the process runs; made at every request,
/// an unauthenticated route would cost the whole document's making each time. It is made once a
/// UTC day instead and sent from that copy.
async fn openapi_document() -> Result<HttpResponse, ApiError> {
    let today = Utc::now().date_naive();
    let kept = DOCUMENT.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let body = match kept {
        Some((day, body)) if day == today => body,
        // Made off the executor (milliseconds of work) and outside the lock, so neither other
        // requests on this worker nor those for the kept copy wait on the making.
        _ => {
            let made = web::block(|| ApiDoc::openapi().to_json()).await.map_err(Error::unexpected)?;
            let body = Bytes::from(made.map_err(Error::unexpected)?);
            *DOCUMENT.lock().unwrap_or_else(PoisonError::into_inner) = Some((today, body.clone()));
            body
        }
    };
    Ok(HttpResponse::Ok().content_type("application/json").body(body))
}

/// CORS for the configured browser origins: every method of the API with the
/// `Authorization` and `Content-Type` headers, exposing `X-Total-Count`. No wildcard: with no
/// origin configured, browsers on other origins are refused.
pub fn cors(origins: &[String]) -> Cors {
    let cors = origins.iter().fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.allowed_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE, Method::OPTIONS])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::HeaderName::from_static("x-total-count"), header::RETRY_AFTER])
        .max_age(3600)
}

/// Wrapped around [`cors`]: its refusal of a preflight (an origin, method or header not
/// allowed) is a `400` with the contract's `{"detail": ...}` body instead of plain text.
pub fn cors_refusals<B: 'static>() -> ErrorHandlers<B> {
    ErrorHandlers::new().handler(actix_web::http::StatusCode::BAD_REQUEST, cors_refusal_with_detail)
}
