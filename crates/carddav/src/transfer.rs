//! `COPY` and `MOVE` of cards (RFC 4918 9.8, 9.9; RFC 6352 6.3.2.1).

use actix_web::HttpResponse;

use crate::backend::{BackendError, DavBackend, EtagMatch, WritePrecondition};
use crate::error::DavError;
use crate::handlers::{Ctx, not_allowed, uid_conflict_in};
use crate::paths::Target;
use crate::request;

/// `COPY` and `MOVE` of a card (RFC 4918 9.8, 9.9) to another name in one of the caller's
/// books, `Overwrite` honoured (`412` when it is `F` and the name is taken). A copy is a `PUT`
/// of the card's text (so its UID must be free in the destination book, RFC 6352 6.3.2.1); a
/// move keeps the card itself, REST id and kept properties included; a copy gets the
/// source's kept properties. Books are neither copied nor moved (`405`;
/// `403` `CARDDAV:addressbook-collection-location-ok` to a place no book could be, RFC 6352
/// 6.3.2.1).
pub async fn copy_or_move<B: DavBackend>(ctx: Ctx<'_, B>, moving: bool) -> Result<HttpResponse, DavError> {
    let headers = ctx.req.headers();
    let destination = headers.get("destination").and_then(|d| d.to_str().ok());
    let Some(destination) = destination else { return Err(DavError::BadRequest("Destination is required")) };
    let Target::Card(_, book, card) = &ctx.target else {
        let to_a_home = matches!(Target::parse_href(destination, ctx.req.uri().path()), Some(Target::Book(owner, _)) if owner == ctx.user.username);
        return Err(match ctx.target {
            Target::Book(..) if !to_a_home => DavError::NotABookLocation,
            _ => not_allowed(&ctx),
        });
    };
    let overwrite = match headers.get("overwrite").map(|o| o.as_bytes().trim_ascii()) {
        None | Some(b"T" | b"t") => true,
        Some(b"F" | b"f") => false,
        Some(_) => return Err(DavError::BadRequest("Overwrite must be T or F")),
    };
    let (to_book, to_card) = match Target::parse_href(destination, ctx.req.uri().path()) {
        Some(Target::Card(owner, to_book, to_card)) if owner == ctx.user.username => (to_book, to_card),
        // Another user's book is one that does not exist: no collection to put it in.
        Some(Target::Card(..)) => return Err(DavError::MissingParent),
        _ => return Err(BackendError::Forbidden.into()),
    };
    if (book, card) == (&to_book, &to_card) {
        return Err(BackendError::Forbidden.into());
    }
    match ctx.backend.book(&ctx.user, &to_book).await {
        Err(BackendError::NotFound) => return Err(DavError::MissingParent),
        found => found?,
    };
    let precondition = request::precondition(headers);
    let created = if moving {
        let moved = ctx.backend.move_card(&ctx.user, (book, card), (&to_book, &to_card), overwrite, &precondition);
        moved.await.map_err(|e| uid_conflict_in(&ctx.user, &to_book, e))?
    } else {
        let only_new = WritePrecondition { if_none_match: Some(EtagMatch::Any), ..WritePrecondition::default() };
        let target = if overwrite { WritePrecondition::default() } else { only_new };
        let copied = ctx.backend.copy_card(&ctx.user, (book, card), (&to_book, &to_card), &target).await;
        copied.map_err(|e| uid_conflict_in(&ctx.user, &to_book, e))?.created
    };
    Ok(if created { HttpResponse::Created() } else { HttpResponse::NoContent() }.finish())
}
