//! The access log: one line a request (method, path, status, size, time), written inside the
//! request's span so that it carries the request's id like every other line of the request.
//!
//! actix-web's own `Logger` writes its line once the body has been sent, after the request's
//! span has closed, so its lines had no id. This one writes when the response's head is ready:
//! the time is the time to the head (a streamed export goes on after it), and the size is the
//! body's when it is known (`-` for a stream).

use std::time::Instant;

use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// Middleware (for `actix_web::middleware::from_fn`, wrapped inside
/// `contacts_http::security_headers`): logs every request once its response's head is ready.
/// Paths are logged without their query string and with confirmation tokens masked
/// ([`contacts_http::redacted_path`], as in the request's span), so no token reaches the logs.
pub async fn log_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = contacts_http::redacted_path(req.path());
    let outcome = next.call(req).await;
    let (status, size) = match &outcome {
        Ok(response) => (response.status(), response.response().body().size()),
        Err(error) => (error.as_response_error().status_code(), BodySize::None),
    };
    let size = match size {
        BodySize::Sized(bytes) => bytes.to_string(),
        BodySize::None => "0".to_owned(),
        BodySize::Stream => "-".to_owned(),
    };
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(target: "access", "{method} {path} {} {size} {millis:.2}ms", status.as_u16());
    outcome
}
