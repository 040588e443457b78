//! One handler per method, each thin: read the request, call the backend, write the answer.

use std::collections::VecDeque;

use actix_web::http::{StatusCode, header};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};

use contacts_domain::addressbook::{BookLabels, ClientProperty};

use crate::backend::{BackendError, CardEntry, DavBackend, DavUser, TextWanted, WritePrecondition, unchanged_since};
use crate::client_props::{self, held_by, kept_for};
use crate::error::DavError;
use crate::listing::{self, Listing, Multiget};
use crate::multistatus;
use crate::paths::{self, Target};
use crate::props::{self, MAX_CARD_BYTES, Resource, VCARD_TYPE, Wanted};
use crate::request::{self, Depth};
use crate::routes::allowed;
use crate::sync;
use crate::xml::Name;
use crate::xml::parse::{self, Propfind, Report};
use crate::xml::write::{self, Response};

/// Everything a handler needs about the request it serves.
pub struct Ctx<'a, B> {
    /// The request.
    pub req: &'a HttpRequest,
    /// The backend.
    pub backend: web::Data<B>,
    /// The signed-in caller (the owner of `target`, when it has one).
    pub user: DavUser,
    /// The resource addressed.
    pub target: Target,
}

const XML_TYPE: &str = "application/xml; charset=utf-8";

/// A `207 Multi-Status` answer with an XML body.
pub(crate) fn multi_status() -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::build(StatusCode::MULTI_STATUS);
    builder.content_type(XML_TYPE);
    builder
}

pub(crate) fn not_allowed<B>(ctx: &Ctx<'_, B>) -> DavError {
    DavError::MethodNotAllowed(allowed(Some(&ctx.target)))
}

/// A single card's name and ETag, or `404`.
pub(crate) async fn card_entry<B: DavBackend>(ctx: &Ctx<'_, B>, book: &str, card: &str) -> Result<CardEntry, DavError> {
    let mut found = ctx.backend.get_cards(&ctx.user, book, &[card.to_owned()], TextWanted::No).await?;
    found.pop().ok_or(DavError::NotFound)
}

fn props_response(user: &DavUser, href: String, resource: Resource<'_>, wanted: Wanted<'_>) -> Response {
    kept_props_response(user, href, resource, wanted, &[])
}

fn kept_props_response(
    user: &DavUser,
    href: String,
    resource: Resource<'_>,
    wanted: Wanted<'_>,
    kept: &[&ClientProperty],
) -> Response {
    Response::Props { href, propstats: props::propstats(user, resource, wanted, kept) }
}

/// `PROPFIND`, depth 0 or 1; a book's cards are streamed.
pub async fn propfind<B: DavBackend>(ctx: Ctx<'_, B>, payload: web::Payload) -> Result<HttpResponse, DavError> {
    let depth = request::depth(ctx.req.headers())?;
    if depth == Depth::Infinity {
        return Err(DavError::DepthInfinity);
    }
    let body = request::read_xml(ctx.req, payload).await?;
    let request = parse::propfind(&body)?;
    let wanted = match &request {
        Propfind::AllProp(include) => Wanted::All(include),
        Propfind::PropName => Wanted::Names,
        Propfind::Prop(names) => Wanted::Props(names),
    };
    let user = &ctx.user;
    let one = depth == Depth::One;
    let mut responses = Vec::new();
    match &ctx.target {
        Target::Root => {
            responses.push(props_response(user, paths::ROOT.to_owned(), Resource::Root, wanted));
            if one {
                responses.push(props_response(user, Target::Principals.href(), Resource::Principals, wanted));
                responses.push(props_response(user, Target::Homes.href(), Resource::Homes, wanted));
            }
        }
        Target::Principals => {
            responses.push(props_response(user, Target::Principals.href(), Resource::Principals, wanted));
            if one {
                responses.push(props_response(
                    user,
                    paths::principal_href(&user.username),
                    Resource::Principal,
                    wanted,
                ));
            }
        }
        Target::Homes => {
            responses.push(props_response(user, Target::Homes.href(), Resource::Homes, wanted));
            if one {
                responses.push(props_response(user, paths::home_href(&user.username), Resource::Home, wanted));
            }
        }
        Target::Principal(_) => {
            responses.push(props_response(user, paths::principal_href(&user.username), Resource::Principal, wanted));
        }
        Target::Home(_) => {
            let kept = kept_for(&ctx, wanted).await?;
            let href = paths::home_href(&user.username);
            responses.push(kept_props_response(user, href, Resource::Home, wanted, &held_by(&kept, None)));
            if one {
                for book in ctx.backend.list_books(user).await? {
                    let href = paths::book_href(&user.username, &book.name);
                    let held = held_by(&kept, Some(&book.name));
                    responses.push(kept_props_response(user, href, Resource::Book(&book), wanted, &held));
                }
            }
        }
        Target::Book(_, name) => {
            let book = ctx.backend.book(user, name).await?;
            let kept = kept_for(&ctx, wanted).await?;
            let href = paths::book_href(&user.username, &book.name);
            let own = kept_props_response(user, href, Resource::Book(&book), wanted, &held_by(&kept, Some(&book.name)));
            if one {
                let mut head = write::multistatus_start().to_vec();
                head.extend_from_slice(&write::response(&own));
                let props = match request {
                    Propfind::Prop(names) => Some(names),
                    Propfind::AllProp(_) | Propfind::PropName => None,
                };
                let listing = Listing {
                    backend: ctx.backend.clone(),
                    user: ctx.user.clone(),
                    book: book.name,
                    props,
                    text: TextWanted::No,
                    send_text: false,
                    parts: None,
                    filter: None,
                    head: Bytes::from(head),
                    sync_token: None,
                };
                return Ok(multistatus::send(ctx.req, &ctx.backend, listing.stream()).await);
            }
            responses.push(own);
        }
        Target::Card(_, book, card) => {
            let entry = card_entry(&ctx, book, card).await?;
            let names = [entry.name.clone()];
            let kept = client_props::kept_on_cards(ctx.backend.get_ref(), user, book, &names, wanted).await?;
            let held = client_props::on_card(&kept, &entry.name);
            responses.push(kept_props_response(user, ctx.target.href(), Resource::Card(&entry), wanted, &held));
        }
    }
    Ok(multi_status().body(write::multistatus(&responses, None)))
}

/// `REPORT`: addressbook-multiget, addressbook-query and sync-collection on a book, and
/// addressbook-multiget on a card.
pub async fn report<B: DavBackend>(ctx: Ctx<'_, B>, payload: web::Payload) -> Result<HttpResponse, DavError> {
    let body = request::read_xml(ctx.req, payload).await?;
    let report = parse::report(&body)?;
    // A `Depth` that is no WebDAV depth is a malformed request; a multiget ignores the header
    // (API.md), the others read it or take any of its values.
    if !matches!(report, Report::Multiget { .. }) {
        request::depth(ctx.req.headers())?;
    }
    let book_name = match (&ctx.target, &report) {
        (Target::Book(_, book), _) => book,
        // RFC 6352 8.7: a multiget may name one of the book's cards as its request URI; its
        // hrefs still say which cards to read.
        (Target::Card(_, book, _), Report::Multiget { .. }) => book,
        (_, Report::Empty) => return Ok(multi_status().body(write::multistatus(&[], None))),
        _ => return Err(DavError::UnsupportedReport),
    };
    match report {
        Report::SyncCollection { token: Some(token), props, limit } => {
            let Some(since) = props::parse_sync_token(&token) else {
                // A book that does not exist is a 404, not a bad token.
                ctx.backend.book(&ctx.user, book_name).await?;
                return Err(BackendError::InvalidSyncToken.into());
            };
            let body =
                sync::body(ctx.backend.clone(), ctx.user.clone(), book_name.clone(), Some(since), props, limit).await?;
            return Ok(multistatus::send(ctx.req, &ctx.backend, body).await);
        }
        // An initial sync the client limited: read from the log like any other, in pages the
        // client resumes with the token (RFC 6578 lets the server cut an answer shorter still).
        Report::SyncCollection { token: None, props, limit: Some(limit) } => {
            let body =
                sync::body(ctx.backend.clone(), ctx.user.clone(), book_name.clone(), None, props, Some(limit)).await?;
            return Ok(multistatus::send(ctx.req, &ctx.backend, body).await);
        }
        _ => {}
    }
    let book = ctx.backend.book(&ctx.user, book_name).await?;
    match report {
        Report::Empty => Ok(multi_status().body(write::multistatus(&[], None))),
        Report::Unsupported(_) => Err(DavError::UnsupportedReport),
        Report::Multiget { props, mut hrefs } => {
            // RFC 6352 8.7: without hrefs, the scope is the request URI itself (a card's).
            if let (true, Target::Card(..)) = (hrefs.is_empty(), &ctx.target) {
                hrefs.push(ctx.target.href());
            }
            let entries: Vec<(String, Option<String>)> = hrefs
                .into_iter()
                .map(|href| {
                    let name = match Target::parse_href(&href, ctx.req.uri().path()) {
                        Some(Target::Card(user, b, card)) if user == ctx.user.username && b == book.name => Some(card),
                        _ => None,
                    };
                    (href, name)
                })
                .collect();
            let mut pages = VecDeque::new();
            let mut rest = entries.into_iter().peekable();
            while rest.peek().is_some() {
                pages.push_back(rest.by_ref().take(listing::PAGE).collect());
            }
            let multiget = Multiget {
                backend: ctx.backend.clone(),
                user: ctx.user.clone(),
                book: book.name,
                text: props.text_wanted(),
                parts: props.parts(),
                props: props.names,
                pages,
            };
            Ok(multistatus::send(ctx.req, &ctx.backend, multiget.stream()).await)
        }
        Report::Query { props, filter, limit } => {
            // RFC 6352 8.6: `Depth` sets the query's scope; at 0 it is the book itself, which
            // is no card (without the header, the cards: clients that leave it out mean them).
            if ctx.req.headers().get("depth").is_some_and(|d| d.as_bytes().trim_ascii() == b"0") {
                return Ok(multi_status().body(write::multistatus(&[], None)));
            }
            let text = match props.text_wanted() {
                TextWanted::No => TextWanted::AsStored,
                wanted => wanted,
            };
            let listing = Listing {
                backend: ctx.backend.clone(),
                user: ctx.user.clone(),
                book: book.name,
                send_text: props.address_data.is_some(),
                parts: props.parts(),
                props: Some(props.names),
                text,
                filter: Some((filter, limit)),
                head: write::multistatus_start(),
                sync_token: None,
            };
            Ok(multistatus::send(ctx.req, &ctx.backend, listing.stream()).await)
        }
        // An initial sync without a limit (the others are answered above): streamed.
        Report::SyncCollection { props, .. } => {
            // The token is read before the listing: a change made meanwhile is listed again by
            // the next sync, never lost.
            let listing = Listing {
                backend: ctx.backend.clone(),
                user: ctx.user.clone(),
                book: book.name,
                send_text: props.address_data.is_some(),
                text: props.text_wanted(),
                parts: props.parts(),
                props: Some(props.names),
                filter: None,
                head: write::multistatus_start(),
                sync_token: Some(props::sync_token_uri(book.sync_token)),
            };
            Ok(multistatus::send(ctx.req, &ctx.backend, listing.stream()).await)
        }
    }
}

/// `MKCOL` (extended, RFC 5689) of an address book under the caller's home.
pub async fn mkcol<B: DavBackend>(ctx: Ctx<'_, B>, payload: web::Payload) -> Result<HttpResponse, DavError> {
    let Target::Book(_, book) = &ctx.target else { return Err(not_allowed(&ctx)) };
    if !request::is_xml_type(ctx.req.headers()) {
        return Err(DavError::UnsupportedMediaType);
    }
    let body = request::read_xml(ctx.req, payload).await?;
    let request = parse::mkcol(&body)?;
    // Every collection under a home is an address book: a plain MKCOL makes one too. An
    // extended one names a collection (RFC 5689 3) and nothing but an address book.
    let types = &request.resourcetype;
    let valid = types.is_empty()
        || (types.iter().any(|t| t.is_dav("collection"))
            && types.iter().all(|t| t.is_dav("collection") || t.is_carddav("addressbook")));
    if !valid {
        return Err(DavError::InvalidResourceType);
    }
    // The book and what it keeps are made together, or not at all.
    let set_too = [
        (!types.is_empty()).then(|| Name::dav("resourcetype")),
        request.displayname.is_some().then(|| Name::dav("displayname")),
        request.description.is_some().then(|| Name::carddav("addressbook-description")),
    ];
    let kept = client_props::kept_on_a_new_book(request.others, set_too.into_iter().flatten().collect())?;
    let labels =
        BookLabels { display_name: request.displayname.as_deref(), description: request.description.as_deref() };
    ctx.backend.create_book(&ctx.user, book, labels, &kept).await?;
    Ok(HttpResponse::Created().finish())
}

/// The answer to a `MKCOL` on a path that names no book: inside one of the caller's address
/// books `403` (they hold only cards), under a collection that does not exist `409` (RFC 4918
/// 9.3.1), anywhere else `404`.
pub async fn mkcol_elsewhere<B: DavBackend>(req: &HttpRequest, backend: &B, user: &DavUser) -> DavError {
    let path = req.uri().path().trim_end_matches('/');
    let parent = path.rsplit_once('/').map_or("", |(parent, _)| parent);
    match Target::parse(&format!("{parent}/")) {
        Some(Target::Book(owner, book)) if owner == user.username => match backend.book(user, &book).await {
            Ok(_) => DavError::NotABookLocation,
            Err(BackendError::NotFound) => DavError::MissingParent,
            Err(other) => other.into(),
        },
        None if path.starts_with(&paths::home_href(&user.username)) => DavError::MissingParent,
        _ => DavError::NotFound,
    }
}

/// `DELETE` of a book (not the default one) or of a card (`If-Match` honoured).
pub async fn delete<B: DavBackend>(ctx: Ctx<'_, B>) -> Result<HttpResponse, DavError> {
    match &ctx.target {
        Target::Book(_, book) => ctx.backend.delete_book(&ctx.user, book).await?,
        Target::Card(_, book, card) => {
            let precondition = request::precondition(ctx.req.headers());
            ctx.backend.delete_card(&ctx.user, book, card, &precondition).await?
        }
        _ => return Err(not_allowed(&ctx)),
    }
    Ok(HttpResponse::NoContent().finish())
}

/// `GET` / `HEAD` of a card, in the version `Accept` asks for, with the card's ETag. Other
/// resources have no body to get (`405`), and a book that does not exist is `404`.
pub async fn get<B: DavBackend>(ctx: Ctx<'_, B>) -> Result<HttpResponse, DavError> {
    let Target::Card(_, book, card) = &ctx.target else {
        if let Target::Book(_, book) = &ctx.target {
            ctx.backend.book(&ctx.user, book).await?;
        }
        return Err(not_allowed(&ctx));
    };
    if !request::accepts_vcard(ctx.req.headers()) {
        return Err(DavError::NotAcceptable);
    }
    let version = request::accepted_version(ctx.req.headers());
    let found = ctx.backend.get_card(&ctx.user, book, card, version).await?;
    let etag = format!("\"{}\"", found.etag);
    let last_modified = header::HttpDate::from(found.modified);
    let headers = ctx.req.headers();
    let precondition = request::precondition(headers);
    // RFC 9110 13.2.2: `If-Match` (else `If-Unmodified-Since`) first, `412` when it fails;
    // then `If-None-Match` (else `If-Modified-Since`), `304` when it fails.
    let current = WritePrecondition { if_none_match: None, ..precondition.clone() };
    if !current.allows_card(Some((&found.etag, found.modified))) {
        return Err(BackendError::PreconditionFailed.into());
    }
    let not_modified = match precondition.if_none_match {
        Some(condition) => condition.matches(Some(&found.etag)),
        None => request::http_date(headers, header::IF_MODIFIED_SINCE)
            .is_some_and(|since| unchanged_since(found.modified, since)),
    };
    if not_modified {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::LAST_MODIFIED, last_modified))
            .insert_header((header::VARY, "Accept"))
            .finish());
    }
    let mut response = HttpResponse::Ok();
    // One tag for every version of the card, so the answer says it depends on `Accept`.
    response
        .content_type(VCARD_TYPE)
        .insert_header((header::ETAG, etag))
        .insert_header((header::LAST_MODIFIED, last_modified))
        .insert_header((header::VARY, "Accept"));
    // For `HEAD` too: actix-web sends the length of the body it then leaves out, as HEAD must.
    Ok(response.body(found.text))
}

/// `PUT` of a card: `201` created or `204` replaced, with the ETag only when stored as sent.
pub async fn put<B: DavBackend>(ctx: Ctx<'_, B>, payload: web::Payload) -> Result<HttpResponse, DavError> {
    let Target::Card(_, book, card) = &ctx.target else { return Err(not_allowed(&ctx)) };
    if !request::is_vcard_type(ctx.req.headers()) {
        return Err(DavError::NotVcard);
    }
    let body = request::read_card(ctx.req, payload, MAX_CARD_BYTES).await?;
    let precondition = request::precondition(ctx.req.headers());
    let outcome = match ctx.backend.put_card(&ctx.user, book, card, &body, &precondition).await {
        // RFC 4918 9.7.1: a PUT whose collection does not exist is `409`.
        Err(BackendError::NotFound) => return Err(DavError::MissingParent),
        outcome => outcome.map_err(|e| uid_conflict_in(&ctx.user, book, e))?,
    };
    let mut response = if outcome.created { HttpResponse::Created() } else { HttpResponse::NoContent() };
    if let Some(etag) = outcome.etag {
        response.insert_header((header::ETAG, format!("\"{etag}\"")));
    }
    Ok(response.finish())
}

/// A backend failure of a write into `book`, a UID conflict naming the card by its href.
pub(crate) fn uid_conflict_in(user: &DavUser, book: &str, error: BackendError) -> DavError {
    match error {
        BackendError::UidConflict { existing } => {
            let book_href = paths::book_href(&user.username, book);
            DavError::UidConflict(existing.map(|name| paths::card_href(&book_href, &name)))
        }
        other => other.into(),
    }
}
