//! Mounting and dispatch: `/.well-known/carddav` and the `/dav` tree, where one handler reads
//! the method (WebDAV's extension methods included), signs the caller in, resolves the path and
//! hands over to the method's handler.

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use crate::auth;
use crate::backend::{BackendError, DavBackend, DavUser, WritePrecondition};
use crate::client_props;
use crate::conditions::{self, IfHeader};
use crate::error::DavError;
use crate::handlers;
use crate::paths::{self, Target};
use crate::request;
use crate::transfer;

/// What the server says it speaks (RFC 4918 class 1 and 3, RFC 6352), exactly as API.md lists
/// it; extended `MKCOL` (RFC 5689) is served but left out, so the header stays the contract's.
pub const DAV_HEADER: &str = "1, 3, addressbook";

/// The methods an address book takes (`MKCOL` only makes one where none is: RFC 4918 9.3.1).
pub const BOOK_METHODS: &str = "OPTIONS, PROPFIND, PROPPATCH, REPORT, DELETE";

/// The methods a kind of resource takes, for `Allow`.
pub fn allowed(target: Option<&Target>) -> &'static str {
    match target {
        Some(Target::Book(..)) => BOOK_METHODS,
        Some(Target::Card(..)) => "OPTIONS, GET, HEAD, PUT, DELETE, COPY, MOVE, PROPFIND, PROPPATCH",
        _ => "OPTIONS, PROPFIND, PROPPATCH, REPORT",
    }
}

/// Mounts CardDAV: `/.well-known/carddav` and a `PROPFIND` on `/` (redirects to `/dav/`) and
/// the `/dav` tree, served by `backend`. The server crate calls this next to the REST routes.
pub fn configure<B: DavBackend>(backend: B) -> impl FnOnce(&mut ServiceConfig) {
    let backend = web::Data::new(backend);
    move |cfg: &mut ServiceConfig| {
        cfg.service(web::resource("/.well-known/carddav").route(web::route().to(well_known)));
        // A client given only the server's address (DAVx5, Thunderbird) asks the root first;
        // other methods on `/` stay REST's (a JSON 404).
        let propfind = actix_web::http::Method::from_bytes(b"PROPFIND").expect("a valid method");
        cfg.service(web::resource("/").guard(actix_web::guard::Method(propfind)).to(well_known));
        cfg.service(web::scope("/dav").app_data(backend).default_service(web::to(dispatch::<B>)));
    }
}

/// RFC 6764: discovery starts at `/.well-known/carddav`, whatever the method. The target never
/// moves, so clients may keep the answer a day (RFC 6764 5 asks for a `Cache-Control`).
async fn well_known() -> HttpResponse {
    HttpResponse::MovedPermanently()
        .insert_header((header::LOCATION, paths::ROOT))
        .insert_header((header::CACHE_CONTROL, "max-age=86400"))
        .finish()
}

fn options(target: Option<&Target>) -> HttpResponse {
    HttpResponse::Ok().insert_header(("DAV", DAV_HEADER)).insert_header((header::ALLOW, allowed(target))).finish()
}

/// Whether the method's handler judges `If-Match`, `If-None-Match` and `If-Unmodified-Since`
/// itself: a card's read (`304` or `412`) and its writes, inside the write's transaction.
fn judged_by_handler(method: &str, target: &Target) -> bool {
    match method {
        "GET" | "HEAD" => true,
        "PUT" | "DELETE" | "MOVE" => matches!(target, Target::Card(..)),
        _ => false,
    }
}

/// `412` unless the request's conditions hold for its resource: the `If` header (RFC 4918
/// 10.4) on every request, and RFC 9110's `If-Match`, `If-None-Match` and
/// `If-Unmodified-Since` on those whose handler does not judge them (a book's `DELETE`,
/// `PROPPATCH`, `COPY`, `MKCOL`, `PROPFIND`, `REPORT`: RFC 9110 13.1 lets no method go ahead
/// when they fail).
async fn check_conditions<B: DavBackend>(
    req: &HttpRequest,
    backend: &B,
    user: &DavUser,
    target: &Target,
) -> Result<(), DavError> {
    let if_header = match req.headers().get("if") {
        Some(value) => Some(
            value.to_str().ok().and_then(IfHeader::parse).ok_or(DavError::BadRequest("the If header is malformed"))?,
        ),
        None => None,
    };
    let precondition = request::precondition(req.headers());
    let http_conditions = precondition != WritePrecondition::default()
        && matches!(target, Target::Book(..) | Target::Card(..))
        && !judged_by_handler(req.method().as_str(), target);
    if if_header.is_none() && !http_conditions {
        return Ok(());
    }
    let current = conditions::current(backend, user, target).await?;
    // RFC 9110 13.2.1: conditions are ignored where the answer without them is no success (a
    // resource that is not there is `404`), except for `MKCOL`, which makes one.
    let judged = http_conditions && (current.etag.is_some() || req.method().as_str() == "MKCOL");
    let holds = if_header.is_none_or(|condition| condition.holds(current.state()))
        && (!judged || precondition.allows_at(current.etag.as_deref(), current.modified));
    if holds { Ok(()) } else { Err(BackendError::PreconditionFailed.into()) }
}

async fn dispatch<B: DavBackend>(
    req: HttpRequest,
    payload: web::Payload,
    backend: web::Data<B>,
) -> Result<HttpResponse, DavError> {
    let target = Target::parse(req.uri().path());
    let method = req.method().as_str();
    if method == "OPTIONS" {
        // Capabilities are no secret, and clients probe them before signing in.
        return Ok(options(target.as_ref()));
    }
    let user = auth::authenticate(&req, backend.get_ref()).await?;
    let target = match target {
        Some(target) => target,
        None if method == "MKCOL" => return Err(handlers::mkcol_elsewhere(&req, backend.get_ref(), &user).await),
        None => return Err(DavError::NotFound),
    };
    // Another user's tree is answered exactly as a path that does not exist.
    if target.owner().is_some_and(|owner| owner != user.username) {
        return Err(DavError::NotFound);
    }
    check_conditions(&req, backend.get_ref(), &user, &target).await?;
    let ctx = handlers::Ctx { req: &req, backend, user, target };
    let response = match method {
        "PROPFIND" => handlers::propfind(ctx, payload).await,
        "REPORT" => handlers::report(ctx, payload).await,
        "PROPPATCH" => client_props::proppatch(ctx, payload).await,
        "MKCOL" => handlers::mkcol(ctx, payload).await,
        "DELETE" => handlers::delete(ctx).await,
        "GET" | "HEAD" => handlers::get(ctx).await,
        "PUT" => handlers::put(ctx, payload).await,
        "COPY" => transfer::copy_or_move(ctx, false).await,
        "MOVE" => transfer::copy_or_move(ctx, true).await,
        _ => Err(DavError::MethodNotAllowed(allowed(Some(&ctx.target)))),
    }?;
    Ok(response)
}
