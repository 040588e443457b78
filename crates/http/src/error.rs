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

use contacts_domain::{Error, FieldError, PathSegment};

use crate::dto::LocStep;
use crate::problems;

/// Which part of a request held a rejected value: the first element of FastAPI's `loc`. The
/// domain names fields only; each handler says where its input came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The request body.
    Body,
    /// The query string.
    Query,
    /// The path.
    Path,
}

impl Part {
    fn as_str(self) -> &'static str {
        match self {
            Part::Body => "body",
            Part::Query => "query",
            Part::Path => "path",
        }
    }
}

/// An error on its way to becoming an HTTP response.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Anything a use case reported; input problems are located in `part` of the request.
    #[error("{error}")]
    Domain {
        /// What the use case said.
        #[source]
        error: Error,
        /// Where rejected input came from.
        part: Part,
    },
    /// A request that could not even be parsed into the expected shape (malformed JSON, a
    /// wrong type, a non-integer id): `422` at the given part of the request.
    #[error("unprocessable {part:?} at {path:?}: {message}")]
    Unparsable {
        /// Where the problem is.
        part: Part,
        /// The field inside that part, its whole path (empty: the part as a whole).
        path: Vec<PathSegment>,
        /// What is wrong, in FastAPI's words where there are some.
        message: String,
        /// FastAPI's error type (`string_type`, `int_parsing`, `json_invalid`...).
        kind: &'static str,
    },
    /// The body is larger than allowed.
    #[error("payload too large")]
    PayloadTooLarge,
    /// The body is not of a type this route accepts; the types it takes, for the message.
    #[error("unsupported media type (send {0})")]
    UnsupportedMediaType(&'static str),
    /// The body is in a content coding (`Content-Encoding` other than `identity`): bodies are
    /// read as they are, so a compressed one is refused rather than misread.
    #[error("unsupported content coding")]
    EncodedBody,
    /// The body could not be read.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No route matches the path.
    #[error("not found")]
    RouteNotFound,
}

/// Use-case errors are about the body unless a handler says otherwise (`ApiError::in_query`).
impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        Self::Domain { error, part: Part::Body }
    }
}

impl ApiError {
    /// A `422` for a body that does not deserialize.
    pub(crate) fn body(message: impl Into<String>) -> Self {
        Self::Unparsable { part: Part::Body, path: Vec::new(), message: message.into(), kind: "parsing" }
    }

    /// A `422` for one named field of `part` that could not be parsed.
    pub(crate) fn unparsable_field(part: Part, field: &str, message: impl Into<String>) -> Self {
        Self::Unparsable {
            part,
            path: vec![PathSegment::Field(field.to_owned())],
            message: message.into(),
            kind: "parsing",
        }
    }

    /// A use-case error whose rejected input came from the query string.
    pub(crate) fn in_query(error: Error) -> Self {
        Self::Domain { error, part: Part::Query }
    }
}

fn loc(part: Part, path: &[PathSegment]) -> Vec<LocStep> {
    let mut loc = vec![LocStep::Name(part.as_str().to_owned())];
    loc.extend(path.iter().map(|segment| match segment {
        PathSegment::Field(name) => LocStep::Name(name.clone()),
        PathSegment::Index(i) => LocStep::Index(*i as u64),
    }));
    loc
}

fn validation_body(part: Part, errors: &[FieldError]) -> serde_json::Value {
    let detail: Vec<_> = errors
        .iter()
        .map(|e| {
            let (msg, kind) = problems::describe(&e.rule);
            json!({"loc": loc(part, &e.path), "msg": msg, "type": kind})
        })
        .collect();
    json!({ "detail": detail })
}

/// An error and every cause below it (see [`contacts_domain::error::chain`]).
pub(crate) use contacts_domain::error::chain;

impl ApiError {
    /// The status this error maps to, logging its cause when it is unexpected: for responses
    /// that are not JSON (the HTML reset page) but must follow the same rules.
    pub(crate) fn log_and_status(&self) -> StatusCode {
        self.log_cause();
        self.status_code()
    }

    /// The domain error inside, if any.
    fn domain(&self) -> Option<&Error> {
        match self {
            Self::Domain { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Logs what clients are not told: the cause of an outage or of an unexpected failure,
    /// with its whole chain.
    fn log_cause(&self) {
        match self.domain() {
            Some(error @ Error::Unavailable(_)) => {
                tracing::warn!(error = %chain(error), "a backing service is unavailable")
            }
            Some(error @ Error::Unexpected(_)) => {
                tracing::error!(error = %chain(error), cause = ?error, "unexpected error")
            }
            _ => {}
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Domain { error, .. } => match error {
                Error::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
                Error::Conflict(_) => StatusCode::CONFLICT,
                Error::NotFound(_) => StatusCode::NOT_FOUND,
                Error::Unauthenticated | Error::InvalidCredentials | Error::EmailNotConfirmed => {
                    StatusCode::UNAUTHORIZED
                }
                Error::VerificationFailed | Error::InvalidResetToken | Error::InvalidUnsubscribeToken => {
                    StatusCode::BAD_REQUEST
                }
                Error::Forbidden => StatusCode::FORBIDDEN,
                Error::RateLimited { .. } | Error::LoginThrottled { .. } => StatusCode::TOO_MANY_REQUESTS,
                Error::UnsupportedMedia => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Error::ImageTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                Error::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                Error::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Self::Unparsable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) | Self::EncodedBody => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::RouteNotFound => StatusCode::NOT_FOUND,
        }
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        self.log_cause();
        let status = self.status_code();
        let body = match self {
            Self::Domain { error: Error::Invalid(errors), part } => validation_body(*part, errors),
            Self::Unparsable { part, path, message, kind } => {
                json!({"detail": [{"loc": loc(*part, path), "msg": message, "type": kind}]})
            }
            Self::Domain { error: Error::Conflict(conflict), .. } => json!({"detail": problems::conflict(*conflict)}),
            Self::Domain { error: Error::Unavailable(_), .. } => {
                json!({"detail": "Service temporarily unavailable, try again shortly"})
            }
            Self::Domain { error: Error::Unexpected(_), .. } => json!({"detail": "Internal server error"}),
            Self::Domain { error, .. } => json!({"detail": error.to_string()}),
            Self::PayloadTooLarge => json!({"detail": "Request body too large"}),
            Self::UnsupportedMediaType(wanted) => json!({"detail": format!("Unsupported media type: send {wanted}")}),
            Self::EncodedBody => json!({"detail": "Unsupported Content-Encoding: send the body uncompressed"}),
            Self::BadRequest(_) => json!({"detail": "Bad request"}),
            Self::RouteNotFound => json!({"detail": "Not Found"}),
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(Error::RateLimited { retry_after } | Error::LoginThrottled { retry_after }) = self.domain() {
            response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        if let Self::EncodedBody = self {
            // The codings this server reads (RFC 9110, 12.5.3).
            response.insert_header((header::ACCEPT_ENCODING, "identity"));
        }
        response.json(body)
    }
}

/// Maps a JSON body that could not be read or parsed.
pub(crate) fn json_error(error: JsonPayloadError, _req: &HttpRequest) -> actix_web::Error {
    match error {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => ApiError::PayloadTooLarge,
        JsonPayloadError::ContentType => ApiError::UnsupportedMediaType("application/json"),
        JsonPayloadError::Deserialize(e) => ApiError::Unparsable {
            part: Part::Body,
            path: Vec::new(),
            message: format!("JSON decode error: {e}"),
            kind: "json_invalid",
        },
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
    let detail = res.status().canonical_reason().unwrap_or("Error");
    Ok(ErrorHandlerResponse::Response(detail_body(res, detail).map_into_right_body()))
}

/// Gives actix-cors's refusal of a preflight (a plain-text `400`) the `{"detail": ...}` shape,
/// with its reason; any other `400` passes untouched. Wraps the CORS middleware only: CardDAV's
/// errors, also outside the REST scope, keep their XML.
pub(crate) fn cors_refusal_with_detail<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    match res.response().error().and_then(|e| e.as_error::<actix_cors::CorsError>()).map(ToString::to_string) {
        Some(reason) => Ok(ErrorHandlerResponse::Response(detail_body(res, &reason).map_into_right_body())),
        None => Ok(ErrorHandlerResponse::Response(res.map_into_left_body())),
    }
}

/// The same response (status, headers) with `{"detail": detail}` as its JSON body.
fn detail_body<B>(res: ServiceResponse<B>, detail: &str) -> ServiceResponse {
    let status = res.status();
    let (req, old) = res.into_parts();
    let mut response = HttpResponse::build(status);
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.append_header((name.clone(), value.clone()));
        }
    }
    response.insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/json")));
    ServiceResponse::new(req, response.body(json!({ "detail": detail }).to_string()))
}
