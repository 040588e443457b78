//! [`ApiError`]: the only mapping from errors to HTTP responses.
//!
//! Every error body has FastAPI's shape, `{"detail": ...}`. Unexpected causes are logged here
//! and never sent to clients.

use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, ResponseError, error::JsonPayloadError};
use serde_json::json;

use contacts_domain::{Error, FieldError, InputPart};

/// An error on its way to becoming an HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Anything a use case reported.
    #[error(transparent)]
    Domain(#[from] Error),
    /// A request that could not even be parsed into the expected shape (malformed JSON, a
    /// wrong type, a non-integer id): `422` at the given part of the request.
    #[error("unprocessable {part:?}: {message}")]
    Unparsable {
        /// Where the problem is.
        part: InputPart,
        /// The field, when known.
        field: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The body is larger than allowed.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body is not of a type this route accepts.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// The body could not be read.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No route matches the path.
    #[error("not found")]
    RouteNotFound,
}

impl ApiError {
    /// A `422` for a body that does not deserialize.
    pub(crate) fn body(message: impl Into<String>) -> Self {
        Self::Unparsable { part: InputPart::Body, field: None, message: message.into() }
    }
}

fn loc(part: InputPart, field: Option<&str>) -> serde_json::Value {
    let part = match part {
        InputPart::Body => "body",
        InputPart::Query => "query",
        InputPart::Path => "path",
    };
    match field.filter(|f| !f.is_empty()) {
        Some(field) => json!([part, field]),
        None => json!([part]),
    }
}

fn validation_body(errors: &[FieldError]) -> serde_json::Value {
    let detail: Vec<_> =
        errors.iter().map(|e| json!({"loc": loc(e.part, Some(&e.field)), "msg": e.message, "type": e.kind})).collect();
    json!({ "detail": detail })
}

impl ApiError {
    /// The status this error maps to, logging its cause when it is unexpected: for responses
    /// that are not JSON (the HTML reset page) but must follow the same rules.
    pub(crate) fn log_and_status(&self) -> StatusCode {
        self.log_cause();
        self.status_code()
    }

    /// Logs what clients are not told: the cause of an outage or of an unexpected failure.
    fn log_cause(&self) {
        match self {
            Self::Domain(Error::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "a backing service is unavailable")
            }
            Self::Domain(Error::Unexpected(cause)) => {
                tracing::error!(error = %cause, cause = ?cause, "unexpected error")
            }
            _ => {}
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Domain(error) => match error {
                Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                Error::Conflict(_) => StatusCode::CONFLICT,
                Error::NotFound(_) => StatusCode::NOT_FOUND,
                Error::Unauthenticated | Error::InvalidCredentials | Error::EmailNotConfirmed => {
                    StatusCode::UNAUTHORIZED
                }
                Error::VerificationFailed | Error::InvalidResetToken => StatusCode::BAD_REQUEST,
                Error::Forbidden => StatusCode::FORBIDDEN,
                Error::RateLimited { .. } | Error::LoginThrottled { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Error::ImageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                Error::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Self::Unparsable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::RouteNotFound => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        self.log_cause();
        let status = self.status_code();
        let body = match self {
            Self::Domain(Error::Invalid(errors)) => validation_body(errors),
            Self::Unparsable { part, field, message } => json!({
                "detail": [{"loc": loc(*part, field.as_deref()), "msg": message, "type": "parsing"}]
            }),
            Self::Domain(Error::Unavailable(_)) => {
                json!({"detail": "Service temporarily unavailable, try again shortly"})
            }
            Self::Domain(Error::Unexpected(_)) => json!({"detail": "Internal server error"}),
            Self::Domain(other) => json!({"detail": other.to_string()}),
            Self::PayloadTooLarge => json!({"detail": "Request body too large"}),
            Self::UnsupportedMediaType => json!({"detail": "Unsupported media type: send application/json"}),
            Self::BadRequest(_) => json!({"detail": "Bad request"}),
            Self::RouteNotFound => json!({"detail": "Not Found"}),
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Self::Domain(Error::RateLimited { retry_after } | Error::LoginThrottled { retry_after }) = self {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        response.json(body)
    }
}

/// Maps a JSON body that could not be read or parsed.
pub(crate) fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => ApiError::PayloadTooLarge,
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType,
        JsonPayloadError::Deserialize(e) => ApiError::body(e.to_string()),
        other => ApiError::BadRequest(other.to_string()),
    }
    .into()
}

/// Replaces the bare body of framework-made error responses (such as `405`) with the
/// `{"detail": ...}` shape, leaving responses the application built untouched.
pub(crate) fn with_detail<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // Our own responses (JSON errors, the HTML reset page) declare a type; the framework's
    // bare error responses have none or plain text.
    let ours = res
        .response()
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().is_ok_and(|v| !v.starts_with("text/plain")));
    if ours {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = status.canonical_reason().unwrap_or("Error");
    let (req, old) = res.into_parts();
    let mut response = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.append_header((name.clone(), value.clone()));
        }
    }
    response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/json")));
    let response = response.body(json!({ "detail": detail }).to_string());
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, response).map_into_right_body()))
}
