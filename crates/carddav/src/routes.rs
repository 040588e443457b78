//! Mounting and dispatch: `/.well-known/carddav` and the `/dav` tree, where one handler reads
//! the method (WebDAV's extension methods included), signs the caller in, resolves the path and
//! hands over to the method's handler.

use actix_web::http::header;
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};

use crate::auth;
use crate::backend::DavBackend;
use crate::client_props;
use crate::conditions;
use crate::error::DavError;
use crate::handlers;
use crate::paths::{self, Target};
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
    conditions::check(&req, backend.get_ref(), &user, &target).await?;
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
