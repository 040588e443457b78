//! The properties a client sets: a book's labels (`displayname`, `addressbook-description`)
//! and the properties clients keep on the home, books and cards (RFC 4918's dead properties),
//! by `PROPPATCH` and extended `MKCOL`, and reading the kept ones back for `PROPFIND` and
//! reports.

use actix_web::HttpResponse;
use actix_web::web;

use contacts_domain::addressbook::{
    BookLabels, ClientProperty, HeldProperty, MAX_CLIENT_PROPERTY_BYTES, MAX_CLIENT_PROPERTY_NAME_BYTES,
    PropertyChange, PropertyHolder, after_changes,
};

use crate::backend::{BackendError, BookLabel, DavBackend, DavUser};
use crate::error::DavError;
use crate::handlers::{Ctx, card_entry, multi_status};
use crate::paths::Target;
use crate::props::{self, Wanted};
use crate::request;
use crate::xml::Name;
use crate::xml::parse::{self, Element, PropUpdate};
use crate::xml::write::{self, Node, PropStat, Response};

/// The properties clients keep on the caller's books and home, when `wanted` may name one.
pub async fn kept_for<B: DavBackend>(ctx: &Ctx<'_, B>, wanted: Wanted<'_>) -> Result<Vec<HeldProperty>, DavError> {
    if !may_name_kept(wanted) {
        return Ok(Vec::new());
    }
    Ok(ctx.backend.client_properties(&ctx.user).await?)
}

/// Whether a request for these properties may name one a client keeps (`allprop`,
/// `propname`, or a name no live property has): only then are kept ones read, so a client
/// polling `getctag` or listing ETags costs no second query.
pub fn may_name_kept(wanted: Wanted<'_>) -> bool {
    match wanted {
        Wanted::All(_) | Wanted::Names => true,
        Wanted::Props(names) => names.iter().any(props::is_client_property),
    }
}

/// The properties kept on the cards of `book` named `names`, when `wanted` may name one.
pub async fn kept_on_cards<B: DavBackend>(
    backend: &B,
    user: &DavUser,
    book: &str,
    names: &[String],
    wanted: Wanted<'_>,
) -> Result<Vec<(String, ClientProperty)>, BackendError> {
    if names.is_empty() || !may_name_kept(wanted) {
        return Ok(Vec::new());
    }
    backend.card_properties(user, book, names).await
}

/// The properties of `kept` on the card named `name`.
pub fn on_card<'a>(kept: &'a [(String, ClientProperty)], name: &str) -> Vec<&'a ClientProperty> {
    kept.iter().filter(|(card, _)| card == name).map(|(_, property)| property).collect()
}

/// The properties of `kept` held by `book` (`None`: the home).
pub fn held_by<'a>(kept: &'a [HeldProperty], book: Option<&str>) -> Vec<&'a ClientProperty> {
    kept.iter().filter(|h| h.book.as_deref() == book).map(|h| &h.property).collect()
}

/// What a `PROPPATCH` does with one of its properties.
enum Fate {
    /// A book's label set or removed.
    Label(BookLabel, Option<String>),
    /// A property the client keeps, set or removed.
    Kept(PropertyChange),
    /// Not settable here (`403`).
    Forbidden,
    /// A value over [`MAX_CLIENT_PROPERTY_BYTES`], a namespace or name over
    /// [`MAX_CLIENT_PROPERTY_NAME_BYTES`], or a label past [`BookLabel::max_chars`] (`507`).
    TooLarge,
}

/// What becomes of `update` on a book (`book`), or on the home or a card (`!book`).
fn fate(update: &PropUpdate, book: bool) -> Fate {
    let name = update.name();
    let element = match update {
        PropUpdate::Set(element) => Some(element),
        PropUpdate::Remove(_) => None,
    };
    if let Some(label) = BookLabel::of(name).filter(|_| book) {
        // A label past its bound is more than the book records, as a value too large is.
        return match element {
            Some(e) if !label.accepts(&e.text) => Fate::TooLarge,
            _ => Fate::Label(label, element.map(|e| e.text.clone())),
        };
    }
    if !props::is_client_property(name) {
        return Fate::Forbidden;
    }
    let value = element.map(write::property_xml);
    let long_name = name.ns.len() > MAX_CLIENT_PROPERTY_NAME_BYTES || name.local.len() > MAX_CLIENT_PROPERTY_NAME_BYTES;
    if long_name || value.as_ref().is_some_and(|v| v.len() > MAX_CLIENT_PROPERTY_BYTES) {
        return Fate::TooLarge;
    }
    Fate::Kept(PropertyChange { namespace: name.ns.to_string(), name: name.local.to_string(), value })
}

/// `PROPPATCH`: a book's `displayname` and `addressbook-description` may change, and the home,
/// a book or a card keeps any property outside the namespaces this server defines (a dead
/// property: macOS keeps its "me" card so). Anything else is `403`, a value too large or one
/// property too many `507`, and then nothing changes (the others are `424`), as RFC 4918 wants
/// the update atomic.
pub async fn proppatch<B: DavBackend>(ctx: Ctx<'_, B>, payload: web::Payload) -> Result<HttpResponse, DavError> {
    let body = request::read_xml(ctx.req, payload).await?;
    let updates = parse::proppatch(&body)?;
    // Where properties can change: the home, a book, a card; nowhere else (a principal).
    let holder = match &ctx.target {
        Target::Home(_) => Some(PropertyHolder::Home),
        Target::Book(_, book) => {
            ctx.backend.book(&ctx.user, book).await?;
            Some(PropertyHolder::Book(book))
        }
        Target::Card(_, book, card) => {
            card_entry(&ctx, book, card).await?;
            Some(PropertyHolder::Card { book, href: card })
        }
        _ => None,
    };
    let fates: Vec<Fate> = match holder {
        Some(holder) => updates.iter().map(|u| fate(u, matches!(holder, PropertyHolder::Book(_)))).collect(),
        None => updates.iter().map(|_| Fate::Forbidden).collect(),
    };
    let refused = fates.iter().any(|f| matches!(f, Fate::Forbidden | Fate::TooLarge));
    let applied = match holder {
        Some(holder) if !refused => apply(&ctx, holder, &fates).await?,
        _ => false,
    };
    let status = |fate: &Fate| match fate {
        Fate::Forbidden => 403,
        Fate::TooLarge => 507,
        _ if applied => 200,
        // Nothing was refused, so the store's bound was passed.
        Fate::Kept(_) if !refused => 507,
        _ => 424,
    };
    let mut propstats: Vec<PropStat> = [200, 403, 507, 424].map(|status| PropStat { status, props: Vec::new() }).into();
    for (fate, update) in fates.iter().zip(&updates) {
        let code = status(fate);
        if let Some(stat) = propstats.iter_mut().find(|p| p.status == code) {
            stat.props.push(Node::empty(update.name().clone()));
        }
    }
    let response = Response::Props { href: ctx.target.href(), propstats };
    Ok(multi_status().body(write::multistatus(&[response], None)))
}

/// Applies what `fates` set on `holder`, all in one change: the kept properties and a book's
/// labels together, refused whole past the store's bound (`Ok(false)`, nothing changed).
async fn apply<B: DavBackend>(ctx: &Ctx<'_, B>, holder: PropertyHolder<'_>, fates: &[Fate]) -> Result<bool, DavError> {
    let mut labels = BookLabels::NONE;
    let mut kept = Vec::new();
    for fate in fates {
        match fate {
            // The last value sent decides; a removal leaves the label empty.
            Fate::Label(label, value) => *label.in_labels(&mut labels) = Some(value.as_deref().unwrap_or_default()),
            Fate::Kept(change) => kept.push(change.clone()),
            Fate::Forbidden | Fate::TooLarge => {}
        }
    }
    if kept.is_empty() && labels.is_none() {
        return Ok(true);
    }
    Ok(ctx.backend.change_client_properties(&ctx.user, holder, labels, &kept).await?)
}

/// The properties an extended `MKCOL` sets that the new book keeps; `set_too` names the others
/// it sets (its resource type and labels). One it cannot set refuses the whole request (`403`
/// with a `mkcol-response`: RFC 5689 3, "MUST NOT create the collection"), one past its bounds
/// is `507`; either way before any book is made.
pub fn kept_on_a_new_book(others: Vec<Element>, set_too: Vec<Name>) -> Result<Vec<PropertyChange>, DavError> {
    let mut kept = Vec::new();
    let mut refused = Vec::new();
    let mut fine: Vec<Node> = set_too.into_iter().map(Node::empty).collect();
    for element in others {
        let name = element.name.clone();
        match fate(&PropUpdate::Set(element), true) {
            Fate::Kept(change) => {
                kept.push(change);
                fine.push(Node::empty(name));
            }
            Fate::TooLarge => return Err(DavError::InsufficientStorage),
            Fate::Label(..) | Fate::Forbidden => refused.push(Node::empty(name)),
        }
    }
    if !refused.is_empty() {
        return Err(DavError::MkcolRefused(vec![
            PropStat { status: 403, props: refused },
            PropStat { status: 424, props: fine },
        ]));
    }
    // The bounds a store judges, on the book that has none yet.
    if after_changes(&[], &kept).is_none() {
        return Err(DavError::InsufficientStorage);
    }
    Ok(kept)
}
