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

/// Credentials an `Authorization` header carries, when they can be read at all.
enum Credentials<'a> {
    /// HTTP Basic: a login (username or email) and an app password, both non-empty.
    Basic(String, String),
    /// A REST access token.
    Bearer(&'a str),
}

/// Reads `Basic` (Base64 of UTF-8 `login:password`) or `Bearer`; `None` for anything else.
fn credentials(value: &str) -> Option<Credentials<'_>> {
    let (scheme, credentials) = value.trim().split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = String::from_utf8(STANDARD.decode(credentials).ok()?).ok()?;
        let (login, password) = decoded.split_once(':')?;
        (!login.is_empty() && !password.is_empty()).then(|| Credentials::Basic(login.to_owned(), password.to_owned()))
    } else if scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty() {
        Some(Credentials::Bearer(credentials))
    } else {
        None
    }
}

/// The user the request's `Authorization` header speaks for; `401` without one or with a bad
/// one. A request without the header is a client asking for the challenge (most send one
/// before their first credentials), not a failed sign-in; every header that is there and does
/// not sign in counts towards the login throttle of the client's address.
pub async fn authenticate<B: DavBackend>(req: &HttpRequest, backend: &B) -> Result<DavUser, DavError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or(DavError::Unauthenticated)?;
    let origin = origin(req);
    match value.to_str().ok().and_then(credentials) {
        Some(Credentials::Basic(login, password)) => Ok(backend.authenticate_basic(&login, &password, &origin).await?),
        Some(Credentials::Bearer(token)) => Ok(backend.authenticate_bearer(token, &origin).await?),
        None => Err(backend.refuse_unreadable(&origin).await.into()),
    }
}
