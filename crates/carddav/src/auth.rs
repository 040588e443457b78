//! Sign-in: HTTP Basic (username or email, and an app password) or a REST bearer token.

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::backend::{ClientOrigin, DavBackend, DavUser};
use crate::error::DavError;

/// Where the request came from, for the backend's login throttle.
fn origin(req: &HttpRequest) -> ClientOrigin {
    ClientOrigin {
        peer: req.peer_addr().map(|a| a.ip()),
        // Every line, joined: a proxy may add a line of its own (HAProxy does) rather than
        // extend the client's, and the backend believes only the last hop.
        forwarded_for: Some(
            req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(", "),
        )
        .filter(|joined| !joined.is_empty()),
    }
}

/// The user the request's `Authorization` header speaks for; `401` without one or with a bad
/// one.
pub async fn authenticate<B: DavBackend>(req: &HttpRequest, backend: &B) -> Result<DavUser, DavError> {
    let value =
        req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).ok_or(DavError::Unauthenticated)?;
    let (scheme, credentials) = value.trim().split_once(' ').ok_or(DavError::Unauthenticated)?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(credentials).map_err(|_| DavError::Unauthenticated)?;
        let decoded = String::from_utf8(decoded).map_err(|_| DavError::Unauthenticated)?;
        let (login, password) = decoded.split_once(':').ok_or(DavError::Unauthenticated)?;
        if login.is_empty() || password.is_empty() {
            return Err(DavError::Unauthenticated);
        }
        Ok(backend.authenticate_basic(login, password, &origin(req)).await?)
    } else if scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty() {
        Ok(backend.authenticate_bearer(credentials).await?)
    } else {
        Err(DavError::Unauthenticated)
    }
}
