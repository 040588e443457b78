//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::dto::{ErrorBody, MessageBody, ReadinessBody};
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").get(healthz))
        .service(web::resource("/readyz").get(readyz))
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

/// Ready to serve: the database answers. The cache is an accelerator, never a reason to
/// refuse traffic.
#[utoipa::path(
    get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "Ready", body = ReadinessBody),
        (status = 503, description = "The database is unavailable", body = ReadinessBody),
    ),
)]
pub(crate) async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (database, cache) = futures_util::future::join(state.health.database(), state.health.cache()).await;
    let body = ReadinessBody::new(database.is_ok(), cache);
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
