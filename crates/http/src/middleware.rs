//! Headers every response carries, and the request id that ties a request's log lines, its
//! response and any `500` body together.
//!
//! - `X-Request-Id`: the client's own if it is sane (1–64 ASCII letters, digits, `-`, `_`,
//!   `.`), else a fresh random one; every log line written while serving the request carries
//!   it (a tracing span), and a `500` body names it.
//! - `X-Content-Type-Options: nosniff` everywhere, `X-Frame-Options: DENY` everywhere (only
//!   the HTML pages could be framed, and none should be).
//! - `Cache-Control: no-store` on every `/api/auth` response: they carry tokens or say
//!   something about an account.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::{Next, from_fn};
use actix_web::{Error, HttpResponse, ResponseError};
use tracing::Instrument;

/// The request id header, in both directions.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The middleware; wrap it outermost so every response, errors included, gets the headers.
pub fn security_headers<S, B>()
-> impl Transform<S, ServiceRequest, Response = ServiceResponse<BoxBody>, Error = Error, InitError = ()>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: MessageBody + 'static,
{
    from_fn(decorate)
}

async fn decorate<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = client_id(request.headers()).map_or_else(fresh_id, str::to_owned);
    let auth = request.path().starts_with("/api/auth");
    let path = redacted_path(request.path());
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %path);
    let response = match next.call(request).instrument(span).await {
        Ok(response) => response.map_into_boxed_body(),
        // An error no handler turned into a response: render it here, so it gets the headers.
        Err(error) => {
            let response = error.as_response_error().error_response();
            return Err(WithHeaders { error, response, id, auth }.into());
        }
    };
    let (request, response) = response.into_parts();
    Ok(ServiceResponse::new(request, finish(response, &id, auth)))
}

/// Serves `HEAD` as `GET` (RFC 9110 asks every general-purpose server to support both): the
/// route answers as for `GET`, and the server sends the head alone, since the connection still
/// knows the request as `HEAD`. Health checks and link checkers that use `HEAD` get `200`
/// instead of `405`.
pub(crate) async fn head_as_get<B: MessageBody + 'static>(
    mut request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    if request.method() == Method::HEAD {
        request.head_mut().method = Method::GET;
    }
    next.call(request).await
}

/// Refuses a request whose content is in a coding (`Content-Encoding` other than `identity`)
/// with `415` before a handler reads it: bodies are read as they are, so a gzip-compressed
/// JSON body would otherwise be answered as malformed JSON, and a body that only claims a
/// coding would be read as if it had none.
pub(crate) async fn refuse_encoded_bodies<B: MessageBody + 'static>(
    request: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    if encoded(request.headers()) {
        let refusal = crate::error::ApiError::EncodedBody.error_response();
        return Ok(request.into_response(refusal).map_into_right_body());
    }
    next.call(request).await.map(ServiceResponse::map_into_left_body)
}

/// Whether `Content-Encoding` names any coding but `identity` (in any of its lines or items).
fn encoded(headers: &header::HeaderMap) -> bool {
    let codings = headers.get_all(header::CONTENT_ENCODING).flat_map(|v| v.as_bytes().split(|b| *b == b','));
    codings.map(<[u8]>::trim_ascii).any(|coding| !coding.is_empty() && !coding.eq_ignore_ascii_case(b"identity"))
}

/// The request path as logs may hold it: the token of a confirmation link replaced by `…`
/// (query strings, where the other links carry theirs, are never logged).
pub fn redacted_path(path: &str) -> String {
    let confirm = crate::CONFIRM_EMAIL_PATH.trim_end_matches("{token}");
    match path.strip_prefix(confirm) {
        Some(_) => format!("{confirm}…"),
        None => path.to_owned(),
    }
}

/// An error that escaped every handler, rendered with the headers.
#[derive(Debug)]
struct WithHeaders {
    error: Error,
    response: HttpResponse,
    id: String,
    auth: bool,
}

impl std::fmt::Display for WithHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl ResponseError for WithHeaders {
    fn status_code(&self) -> StatusCode {
        self.response.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.response.status());
        for (name, value) in self.response.headers() {
            response.insert_header((name.clone(), value.clone()));
        }
        finish(response.finish(), &self.id, self.auth)
    }
}

/// Adds the headers; a `500` gets the contract's body with the request id.
fn finish(mut response: HttpResponse, id: &str, auth: bool) -> HttpResponse {
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
        let headers = response.headers().clone();
        response = HttpResponse::InternalServerError()
            .json(serde_json::json!({"detail": "Internal server error", "request_id": id}));
        for (name, value) in &headers {
            if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
                response.headers_mut().insert(name.clone(), value.clone());
            }
        }
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert(REQUEST_ID, value);
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if auth {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// The client's request id if it sent exactly one and it is sane. Two `X-Request-Id` lines are
/// one list to HTTP (as `a, b` on one line, which is not sane), so neither is taken.
fn client_id(headers: &actix_web::http::header::HeaderMap) -> Option<&str> {
    let mut sent = headers.get_all(&REQUEST_ID);
    let only = sent.next().filter(|_| sent.next().is_none())?;
    only.to_str().ok().filter(|v| is_sane(v))
}

/// 1–64 ASCII letters, digits, `-`, `_` or `.`.
fn is_sane(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// 32 random hex digits.
fn fresh_id() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No randomness (never seen): a time-based id still tells requests apart.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes = nanos.to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use actix_web::test as actix_test;
    use actix_web::{App, web};

    use super::*;

    #[test]
    fn tokens_in_paths_are_masked() {
        assert_eq!(redacted_path("/api/auth/confirmed_email/eyJ.secret.sig"), "/api/auth/confirmed_email/…");
        assert_eq!(redacted_path("/api/contacts/7"), "/api/contacts/7");
    }

    #[test]
    fn sane_ids_are_short_and_plain() {
        for sane in ["a", "abc-123_X.y", &"x".repeat(64)] {
            assert!(is_sane(sane), "{sane}");
        }
        for insane in ["", "with space", "semi;colon", "é", &"x".repeat(65), "line\nbreak"] {
            assert!(!is_sane(insane), "{insane:?}");
        }
        let fresh = fresh_id();
        assert!(is_sane(&fresh) && fresh.len() == 32 && fresh != fresh_id());
    }

    #[actix_web::test]
    async fn a_500_body_names_the_request_id_and_every_response_gets_the_headers() {
        let app = actix_test::init_service(
            App::new()
                .wrap(security_headers())
                .route("/boom", web::get().to(|| async { HttpResponse::InternalServerError().body("secret cause") }))
                .route("/api/auth/x", web::get().to(|| async { HttpResponse::Ok().finish() })),
        )
        .await;

        let request = actix_test::TestRequest::get().uri("/boom").insert_header((REQUEST_ID, "trace-42")).to_request();
        let response = actix_test::call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers().get(REQUEST_ID).unwrap(), "trace-42");
        assert_eq!(response.headers().get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        let body: serde_json::Value = actix_test::read_body_json(response).await;
        assert_eq!(body, serde_json::json!({"detail": "Internal server error", "request_id": "trace-42"}));

        let request =
            actix_test::TestRequest::get().uri("/api/auth/x").insert_header((REQUEST_ID, "bad id!")).to_request();
        let response = actix_test::call_service(&app, request).await;
        assert_eq!(response.headers().get(header::CACHE_CONTROL).unwrap(), "no-store");
        let id = response.headers().get(REQUEST_ID).unwrap().to_str().unwrap();
        assert!(is_sane(id) && id != "bad id!", "{id}");

        // Two ids are a list, as `aaa, bbb` would be: neither is echoed.
        let request = actix_test::TestRequest::get()
            .uri("/api/auth/x")
            .append_header((REQUEST_ID, "aaa"))
            .append_header((REQUEST_ID, "bbb"))
            .to_request();
        let response = actix_test::call_service(&app, request).await;
        let id = response.headers().get(REQUEST_ID).unwrap().to_str().unwrap();
        assert!(is_sane(id) && id != "aaa" && id != "bbb", "{id}");
    }
}
