//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::dto::MessageBody;
use crate::error::ApiError;
use crate::state::AppState;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").get(healthz))
        .service(web::resource("/readyz").get(readyz))
        .service(web::resource("/api/healthchecker").get(healthchecker));
}

/// The process is up; says nothing about its dependencies.
async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready to serve: the database answers. The cache is an accelerator, never a reason to
/// refuse traffic.
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (database, cache) = futures_util::future::join(state.database.ping(), state.cache.is_healthy()).await;
    let cache = if cache { "ok" } else { "degraded" };
    match database {
        Ok(()) => HttpResponse::Ok().json(json!({"database": "ok", "cache": cache})),
        Err(_) => HttpResponse::ServiceUnavailable().json(json!({
            "detail": "Database unavailable",
            "database": "unavailable",
            "cache": cache,
        })),
    }
}

/// The contract's health check: `200` when the database answers, `503` otherwise.
async fn healthchecker(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.database.ping().await?;
    Ok(HttpResponse::Ok().json(MessageBody::new("API is healthy")))
}
