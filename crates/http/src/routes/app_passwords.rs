//! `/api/users/me/app-passwords`: the app passwords CardDAV clients sign in with. The handlers
//! are generic over the store, so this crate needs no adapter; the server mounts them with
//! [`configure_app_passwords`] ahead of the rest of the API.

use actix_web::middleware::ErrorHandlers;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpResponse, Scope};
use serde::Deserialize;
use serde_json::json;

use contacts_domain::SystemClock;
use contacts_domain::addressbook::{AppPassword, AppPasswordService, AppPasswordStore};

use crate::error::{ApiError, json_error, with_detail};
use crate::extract::CurrentUser;

/// Where the routes live.
pub const APP_PASSWORDS_PATH: &str = "/api/users/me/app-passwords";

/// The service the handlers reach, on the production clock.
pub type AppPasswords<S> = AppPasswordService<S, SystemClock>;

/// The body of a create.
#[derive(Debug, Deserialize)]
struct CreateBody {
    name: Option<String>,
}

fn listed(p: &AppPassword) -> serde_json::Value {
    json!({"id": p.id, "name": p.name, "created_at": p.created_at, "last_used_at": p.last_used_at})
}

async fn create<S: AppPasswordStore>(
    service: web::Data<AppPasswords<S>>,
    CurrentUser(user): CurrentUser,
    body: web::Json<CreateBody>,
) -> Result<HttpResponse, ApiError> {
    let made = service.create(user.id, body.into_inner().name).await?;
    Ok(HttpResponse::Created().json(json!({
        "id": made.password.id,
        "name": made.password.name,
        "password": made.secret,
        "created_at": made.password.created_at,
    })))
}

async fn list<S: AppPasswordStore>(
    service: web::Data<AppPasswords<S>>,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, ApiError> {
    let all = service.list(user.id).await?;
    Ok(HttpResponse::Ok().json(all.iter().map(listed).collect::<Vec<_>>()))
}

async fn revoke<S: AppPasswordStore>(
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
            .service(web::resource("").route(web::post().to(create::<S>)).route(web::get().to(list::<S>)))
            .service(web::resource("/{id}").route(web::delete().to(revoke::<S>)));
        cfg.service(scope);
    }
}
