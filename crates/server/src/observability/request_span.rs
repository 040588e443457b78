//! A tracing span around every request, with a `request_id` field: each log line written while
//! the request is handled carries it (the JSON log lines put it at the top level).
//!
//! The id is the caller's `X-Request-Id` when it is a short token of visible ASCII (a proxy in
//! front may have set it), otherwise a random one; it is echoed in the response's `X-Request-Id`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

/// The header a request id travels in.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied id kept; longer ones are replaced, so logs stay bounded.
const MAX_ID_LEN: usize = 64;

/// Middleware (for `actix_web::middleware::from_fn`): runs the rest of the chain inside a
/// `request` span with the request's id, and echoes the id in the response.
pub async fn with_request_span(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable_id(v))
        .map_or_else(random_id, str::to_owned);
    let span = tracing::info_span!("request", request_id = %id);
    let mut response = next.call(req).instrument(span).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

fn is_acceptable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// 16 random bytes in hex; a counter if the system's randomness fails (ids need not be secret).
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        return format!("req-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_ids_are_taken_from_callers() {
        assert!(is_acceptable_id("3f2a-9c.1:x_y"));
        assert!(!is_acceptable_id(""));
        assert!(!is_acceptable_id("a b"));
        assert!(!is_acceptable_id("a\"}{"));
        assert!(!is_acceptable_id(&"a".repeat(65)));
        assert_eq!(random_id().len(), 32);
    }
}
