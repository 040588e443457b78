//! `/api/users/me/app-passwords`: the app passwords CardDAV clients sign in with. The handlers
//! are generic over the store, so this crate needs no adapter; the server mounts them with
//! [`configure_app_passwords`] ahead of the rest of the API.

use actix_web::http::header;
use actix_web::middleware::{ErrorHandlers, from_fn};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpResponse, Scope};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use contacts_domain::SystemClock;
use contacts_domain::addressbook::{AppPassword, AppPasswordService, AppPasswordStore};

use crate::dto::ErrorBody;
use crate::error::{ApiError, json_error, with_detail};
use crate::extract::{CurrentUser, ValidJson};
use crate::middleware::refuse_encoded_bodies;

/// Where the routes live.
pub const APP_PASSWORDS_PATH: &str = "/api/users/me/app-passwords";

/// The service the handlers reach, on the production clock.
pub type AppPasswords<S> = AppPasswordService<S, SystemClock>;

/// The body of a create: the name its owner gives it (the device, say), 1–100 characters.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct AppPasswordRequest {
    #[schema(required = true, value_type = String, example = "phone")]
    name: Option<String>,
}

/// An app password as listed: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AppPasswordBody {
    id: i64,
    name: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
}

impl From<&AppPassword> for AppPasswordBody {
    fn from(p: &AppPassword) -> Self {
        Self { id: p.id, name: p.name.clone(), created_at: p.created_at, last_used_at: p.last_used_at }
    }
}

/// A new app password with its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedAppPasswordBody {
    id: i64,
    name: String,
    /// The secret: at least 128 random bits; only its SHA-256 fingerprint is kept.
    password: String,
    created_at: DateTime<Utc>,
}

/// Makes an app password for a CardDAV client; its secret is in this answer only.
#[utoipa::path(
    post, path = "/api/users/me/app-passwords", tag = "users", request_body = AppPasswordRequest,
    responses((status = 201, description = "The new app password, its secret shown this once", body = CreatedAppPasswordBody)),
)]
pub(crate) async fn create<S: AppPasswordStore>(
    service: web::Data<AppPasswords<S>>,
    CurrentUser(user): CurrentUser,
    body: ValidJson<AppPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let made = service.create(&user, body.into_inner().name).await?;
    // The answer carries a credential: no cache may keep it.
    Ok(HttpResponse::Created().insert_header((header::CACHE_CONTROL, "no-store")).json(CreatedAppPasswordBody {
        id: made.password.id,
        name: made.password.name,
        password: made.secret,
        created_at: made.password.created_at,
    }))
}

/// The user's app passwords, without their secrets.
#[utoipa::path(
    get, path = "/api/users/me/app-passwords", tag = "users",
    responses((status = 200, body = [AppPasswordBody])),
)]
pub(crate) async fn list<S: AppPasswordStore>(
    service: web::Data<AppPasswords<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let all = service.list(user.id).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(AppPasswordBody::from).collect::<Vec<_>>()))
}

/// Revokes an app password: refused from the next request on.
#[utoipa::path(
    delete, path = "/api/users/me/app-passwords/{id}", tag = "users", params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such app password (or another user's)", body = ErrorBody),
    ),
)]
pub(crate) async fn revoke<S: AppPasswordStore>(
    service: web::Data<AppPasswords<S>>,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    // An id that is not a number names nobody's app password: the same 404 as another user's.
    let id = id.parse::<i64>().map_err(|_| contacts_domain::Error::NotFound("App password not found"))?;
    service.revoke(user.id, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mounts the app password routes over `service` (with the API's JSON error shapes); register it
/// before [`crate::configure`], whose catch-all would otherwise answer these paths.
pub fn configure_app_passwords<S: AppPasswordStore>(
    service: web::Data<AppPasswords<S>>,
) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        let scope: Scope<_> = web::scope(APP_PASSWORDS_PATH)
            .app_data(service)
            .app_data(web::JsonConfig::default().limit(4096).error_handler(json_error))
            .wrap(ErrorHandlers::new().default_handler(with_detail))
            .wrap(from_fn(refuse_encoded_bodies))
            .service(web::resource("").route(web::post().to(create::<S>)).route(web::get().to(list::<S>)))
            .service(web::resource("/{id}").route(web::delete().to(revoke::<S>)));
        cfg.service(scope);
    }
}
