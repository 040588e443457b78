//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::dto::{ErrorBody, MessageBody, ReadinessBody};
use crate::error::ApiError;
use crate::state::AppState;

/// The probes answer `HEAD` too (the status without the body), as some load balancers ask.
pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").get(healthz).head(healthz))
        .service(web::resource("/readyz").get(readyz).head(readyz))
        .service(web::resource("/api/healthchecker").get(healthchecker));
}

/// The process is up; says nothing about its dependencies.
#[utoipa::path(
    get, path = "/healthz", tag = "service",
    responses(
        (status = 200, description = "The process is alive"),
    ),
)]
pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready to serve: the database answers. The cache is an accelerator and the avatar store
/// serves one feature, never reasons to refuse traffic; both are reported, so an operator sees
/// which dependency is down.
#[utoipa::path(
    get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "Ready", body = ReadinessBody),
        (status = 503, description = "The database is unavailable", body = ReadinessBody),
    ),
)]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let health = &state.health;
    let (database, cache, avatars) =
        futures_util::future::join3(health.database(), health.cache(), health.avatars()).await;
    let body = ReadinessBody::new(database.is_ok(), cache, avatars);
    if database.is_ok() { HttpResponse::Ok().json(body) } else { HttpResponse::ServiceUnavailable().json(body) }
}

/// The contract's health check: `200` when the database answers, `503` otherwise.
#[utoipa::path(
    get, path = "/api/healthchecker", tag = "service",
    responses(
        (status = 200, body = MessageBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
)]
pub(crate) async fn healthchecker(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.health.database().await?;
    Ok(HttpResponse::Ok().json(MessageBody::new("API is healthy")))
}
