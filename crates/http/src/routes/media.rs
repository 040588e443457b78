//! `/media/{name}`: stored avatars, public like any profile picture.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/media/{name}").get(avatar));
}

async fn avatar(state: web::Data<AppState>, name: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match state.profiles.avatar(&name).await? {
        // Names are random and files never change, so they may be cached for long.
        Some(png) => Ok(HttpResponse::Ok()
            .content_type("image/png")
            .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
            .insert_header(("X-Content-Type-Options", "nosniff"))
            .body(png)),
        None => Err(ApiError::RouteNotFound),
    }
}
