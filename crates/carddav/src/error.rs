//! [`DavError`]: the one place where failures become DAV answers (status, headers and the
//! `DAV:error` body naming the failed precondition). Unexpected causes are logged here and
//! never sent to clients.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::backend::BackendError;
use crate::xml::Name;
use crate::xml::parse::XmlError;
use crate::xml::write::{self, Node, PropStat};

/// The challenge sent with every `401`: DAVx5 and iOS only send credentials when asked.
pub const CHALLENGE: &str = "Basic realm=\"contacts\"";

/// Everything a DAV request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DavError {
    /// What the backend reported.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// A request body that is not the XML it should be.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// A `UID` another card of the book has; the href of that card when known.
    #[error("uid conflict")]
    UidConflict(Option<String>),
    /// An XML body over the limit (`413`).
    #[error("XML body too large")]
    XmlTooLarge,
    /// A `PUT` body that is not declared as a vCard (`415`).
    #[error("not a vCard media type")]
    NotVcard,
    /// A `GET` whose `Accept` takes no vCard (`406` `CARDDAV:supported-address-data-conversion`,
    /// RFC 6352 5.1.1.1).
    #[error("no acceptable representation")]
    NotAcceptable,
    /// An XML body declared with another media type (`415`).
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// A body in a content coding (`Content-Encoding` other than `identity`): bodies are read
    /// as they are, so a compressed card or XML body is refused rather than misread (`415`).
    #[error("unsupported content coding")]
    EncodedBody,
    /// An extended `MKCOL` asking for a resource type other than an address book (`403`
    /// `DAV:valid-resourcetype`).
    #[error("invalid resource type")]
    InvalidResourceType,
    /// A `MKCOL` or `PUT` whose parent collection does not exist (`409`, RFC 4918 9.3.1,
    /// 9.7.1).
    #[error("missing parent collection")]
    MissingParent,
    /// A `MKCOL` inside an address book, which holds only cards (`403`
    /// `CARDDAV:addressbook-collection-location-ok`, RFC 6352 5.2).
    #[error("not a place for an address book")]
    NotABookLocation,
    /// A request this resource cannot take, with what to say (`400`).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// `Depth: infinity` on a `PROPFIND` (`403` `DAV:propfind-finite-depth`).
    #[error("depth infinity")]
    DepthInfinity,
    /// A report this resource does not support (`403` `DAV:supported-report`).
    #[error("unsupported report")]
    UnsupportedReport,
    /// A method this resource does not support, with the ones it does (`405`).
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// No such resource, or someone else's (`404`).
    #[error("not found")]
    NotFound,
    /// No credentials, or bad ones (`401`).
    #[error("unauthenticated")]
    Unauthenticated,
    /// An extended `MKCOL` setting a property that cannot be set: `403` with a
    /// `mkcol-response` saying which (`403`) and which others were not set for it (`424`).
    #[error("extended MKCOL refused")]
    MkcolRefused(Vec<PropStat>),
    /// Properties a client would keep past their bounds (`507`, RFC 4918 11.5).
    #[error("insufficient storage")]
    InsufficientStorage,
}

fn condition(name: Name) -> Option<Node> {
    Some(Node::empty(name))
}

impl DavError {
    fn log_cause(&self) {
        match self {
            Self::Backend(BackendError::Unavailable(cause)) => {
                tracing::warn!(error = %cause, "a backing service is unavailable")
            }
            Self::Backend(BackendError::Unexpected(cause)) => {
                tracing::error!(error = %cause, cause = ?cause, "unexpected error")
            }
            _ => {}
        }
    }

    /// The `DAV:error` condition this answer names, if any.
    fn condition(&self) -> Option<Node> {
        match self {
            Self::Backend(e) => match e {
                BackendError::UidConflict { .. } => condition(Name::carddav("no-uid-conflict")),
                BackendError::InvalidCard(_) => condition(Name::carddav("valid-address-data")),
                BackendError::UnsupportedCard => condition(Name::carddav("supported-address-data")),
                BackendError::TooLarge => condition(Name::carddav("max-resource-size")),
                BackendError::InvalidSyncToken => condition(Name::dav("valid-sync-token")),
                _ => None,
            },
            Self::Xml(e) => match e {
                XmlError::UnsupportedCollation(_) => condition(Name::carddav("supported-collation")),
                XmlError::UnsupportedAddressData => condition(Name::carddav("supported-address-data")),
                XmlError::UnsupportedFilter(_) => condition(Name::carddav("supported-filter")),
                _ => None,
            },
            Self::UidConflict(href) => Some(Node::parent(
                Name::carddav("no-uid-conflict"),
                href.iter().map(|h| Node::href(h.as_str())).collect(),
            )),
            Self::NotVcard => condition(Name::carddav("supported-address-data")),
            Self::NotAcceptable => condition(Name::carddav("supported-address-data-conversion")),
            Self::DepthInfinity => condition(Name::dav("propfind-finite-depth")),
            Self::InvalidResourceType => condition(Name::dav("valid-resourcetype")),
            Self::NotABookLocation => condition(Name::carddav("addressbook-collection-location-ok")),
            Self::UnsupportedReport => condition(Name::dav("supported-report")),
            _ => None,
        }
    }
}

/// The body of a `503`: the database is out of reach.
const UNAVAILABLE_DETAIL: &str = r#"{"detail":"Service temporarily unavailable, try again shortly"}"#;

impl ResponseError for DavError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Backend(e) => match e {
                BackendError::NotFound => StatusCode::NOT_FOUND,
                BackendError::Unauthenticated => StatusCode::UNAUTHORIZED,
                BackendError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
                BackendError::Forbidden => StatusCode::FORBIDDEN,
                BackendError::AlreadyExists => StatusCode::METHOD_NOT_ALLOWED,
                BackendError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
                BackendError::UidConflict { .. } => StatusCode::CONFLICT,
                BackendError::InvalidCard(_) => StatusCode::BAD_REQUEST,
                BackendError::UnsupportedCard => StatusCode::UNSUPPORTED_MEDIA_TYPE,
                BackendError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                BackendError::InvalidSyncToken => StatusCode::FORBIDDEN,
                BackendError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
                BackendError::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Self::Xml(e) => match e {
                XmlError::Malformed(_) | XmlError::Doctype | XmlError::Unexpected(_) => StatusCode::BAD_REQUEST,
                XmlError::UnsupportedCollation(_)
                | XmlError::UnsupportedAddressData
                | XmlError::UnsupportedFilter(_) => StatusCode::FORBIDDEN,
            },
            Self::UidConflict(_) => StatusCode::CONFLICT,
            Self::XmlTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotVcard | Self::UnsupportedMediaType | Self::EncodedBody => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Self::InvalidResourceType | Self::NotABookLocation | Self::MkcolRefused(_) => StatusCode::FORBIDDEN,
            Self::MissingParent => StatusCode::CONFLICT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::DepthInfinity | Self::UnsupportedReport => StatusCode::FORBIDDEN,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.log_cause();
        let mut response = HttpResponse::build(self.status_code());
        match self {
            Self::Unauthenticated | Self::Backend(BackendError::Unauthenticated) => {
                response.insert_header((header::WWW_AUTHENTICATE, CHALLENGE));
            }
            Self::Backend(BackendError::Throttled { retry_after }) => {
                response.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after)));
            }
            Self::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, *allow));
            }
            // The codings this server reads (RFC 9110, 12.5.3).
            Self::EncodedBody => {
                response.insert_header((header::ACCEPT_ENCODING, "identity"));
            }
            // MKCOL on an existing book (RFC 4918, 9.3.1): say what the book does take.
            Self::Backend(BackendError::AlreadyExists) => {
                response.insert_header((header::ALLOW, crate::routes::BOOK_METHODS));
            }
            _ => {}
        }
        match (self.condition(), self) {
            (_, Self::MkcolRefused(propstats)) => {
                response.content_type("application/xml; charset=utf-8").body(write::mkcol_response(propstats))
            }
            (Some(node), _) => response.content_type("application/xml; charset=utf-8").body(write::error(&node)),
            // The words REST gives (API.md: "`503` with a `detail`"), for a person reading a
            // sync client's error, or a monitor probing both doors.
            (None, Self::Backend(BackendError::Unavailable(_))) => {
                response.content_type("application/json").body(UNAVAILABLE_DETAIL)
            }
            (None, _) => response.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_and_header(error: DavError, header: &str) -> (u16, Option<String>) {
        let response = error.error_response();
        let value = response.headers().get(header).map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), value)
    }

    #[test]
    fn backend_failures_map_to_dav_answers_without_leaking_causes() {
        let throttled = DavError::Backend(BackendError::Throttled { retry_after: 42 });
        assert_eq!(status_and_header(throttled, "retry-after"), (429, Some("42".into())));
        let down = DavError::Backend(BackendError::Unavailable("pool timed out".into()));
        let response = down.error_response();
        assert_eq!(response.status().as_u16(), 503);
        assert_eq!(response.headers().get("content-type").unwrap(), "application/json");
        let body = actix_web::body::to_bytes(response.into_body());
        let body = futures_util::FutureExt::now_or_never(body).unwrap().unwrap();
        assert_eq!(&body[..], br#"{"detail":"Service temporarily unavailable, try again shortly"}"#);
        let bug = DavError::Backend(BackendError::Unexpected("secret detail".into()));
        let response = bug.error_response();
        assert_eq!(response.status().as_u16(), 500);
        let body = actix_web::body::to_bytes(response.into_body());
        let body = futures_util::FutureExt::now_or_never(body).unwrap().unwrap();
        assert!(body.is_empty(), "the cause stays in the logs");
        let exists = DavError::Backend(BackendError::AlreadyExists);
        let (status, allow) = status_and_header(exists, "allow");
        assert_eq!(status, 405);
        assert!(!allow.unwrap().contains("MKCOL"), "the book exists: MKCOL is what it does not take");
        let unauthenticated = DavError::Backend(BackendError::Unauthenticated);
        assert_eq!(status_and_header(unauthenticated, "www-authenticate"), (401, Some(CHALLENGE.into())));
    }

    #[test]
    fn domain_errors_convert_into_backend_errors() {
        use contacts_domain::Error as E;
        assert!(matches!(BackendError::from(E::NotFound("x")), BackendError::NotFound));
        assert!(matches!(BackendError::from(E::InvalidCredentials), BackendError::Unauthenticated));
        assert!(matches!(
            BackendError::from(E::RateLimited { retry_after: 3 }),
            BackendError::Throttled { retry_after: 3 }
        ));
        assert!(matches!(BackendError::from(E::unexpected("boom")), BackendError::Unexpected(_)));
    }
}
