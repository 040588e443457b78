//! Request conditions: RFC 9110's `If-Match`, `If-None-Match` and `If-Unmodified-Since` on the
//! methods whose handlers do not judge them, and the WebDAV `If` header (RFC 4918 10.4): lists
//! of state tokens and entity tags a request holds only if one of them matches. There are no
//! locks here, so the state tokens that can match are a book's sync tokens (RFC 6578 5: a client
//! sends the token it has to make sure the book has not changed since); `<DAV:no-lock>` and
//! lock tokens never match, so `Not` of one always holds. Resource tags (`<url> (...)`) are read
//! but every list is judged on the request's own resource.

use std::time::SystemTime;

use actix_web::HttpRequest;

use crate::backend::{BackendError, DavBackend, DavUser, TextWanted, WritePrecondition};
use crate::error::DavError;
use crate::paths::Target;
use crate::props;
use crate::request;

/// One condition of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Check {
    /// `<uri>`: a state token.
    Token(String),
    /// `[etag]`: an entity tag, quotes and `W/` left out.
    Etag(String),
}

/// A parsed `If` header: it holds when any list holds, a list when all its conditions do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfHeader {
    lists: Vec<Vec<(bool, Check)>>,
}

/// The state of the resource a request names, as the `If` header sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct State<'a> {
    /// The sync token URI of the book (the resource's, or the book it is in).
    pub sync_token: Option<&'a str>,
    /// The resource's entity tag, unquoted.
    pub etag: Option<&'a str>,
}

impl IfHeader {
    /// Parses the header; `None` when it is not one (the request is then `400`). A missing
    /// `)` at the very end is forgiven.
    pub fn parse(value: &str) -> Option<Self> {
        let mut lists = Vec::new();
        let mut rest = value.trim();
        while !rest.is_empty() {
            if let Some(tagged) = rest.strip_prefix('<') {
                // A resource tag before its lists.
                rest = tagged.split_once('>')?.1.trim_start();
                continue;
            }
            let inner = rest.strip_prefix('(')?;
            let (list, after) = inner.split_once(')').unwrap_or((inner, ""));
            lists.push(conditions(list)?);
            rest = after.trim_start();
        }
        (!lists.is_empty()).then_some(Self { lists })
    }

    /// Whether the request may go ahead on a resource in `state`.
    pub fn holds(&self, state: State<'_>) -> bool {
        self.lists.iter().any(|list| {
            list.iter().all(|(not, check)| {
                let matches = match check {
                    Check::Token(token) => state.sync_token == Some(token.as_str()),
                    Check::Etag(etag) => state.etag == Some(etag.as_str()),
                };
                matches != *not
            })
        })
    }
}

/// The conditions of one list, at least one.
fn conditions(list: &str) -> Option<Vec<(bool, Check)>> {
    let mut out = Vec::new();
    let mut rest = list.trim();
    while !rest.is_empty() {
        let (not, after_not) = match rest.strip_prefix("Not") {
            Some(after) if after.starts_with([' ', '<', '[']) => (true, after.trim_start()),
            _ => (false, rest),
        };
        let (check, after) = if let Some(token) = after_not.strip_prefix('<') {
            let (token, after) = token.split_once('>')?;
            (Check::Token(token.trim().to_owned()), after)
        } else if let Some(etag) = after_not.strip_prefix('[') {
            let (etag, after) = etag.split_once(']')?;
            let etag = etag.trim().trim_start_matches("W/").trim_matches('"');
            (Check::Etag(etag.to_owned()), after)
        } else {
            return None;
        };
        out.push((not, check));
        rest = after.trim_start();
    }
    (!out.is_empty()).then_some(out)
}

/// What a request's conditions are judged on: the resource's entity tag and last change, and
/// the sync token of its book (a resource that does not exist has none of them; a book has no
/// date of its own).
#[derive(Debug, Clone, Default)]
pub struct Current {
    /// The book's sync token URI (the resource's, or the book it is in).
    pub sync_token: Option<String>,
    /// The resource's entity tag, unquoted.
    pub etag: Option<String>,
    /// When the resource last changed.
    pub modified: Option<SystemTime>,
    /// Whether the resource is there: a book or card with its tag, or a resource of the tree
    /// that always is and has no tag (the root, a home, a principal).
    pub exists: bool,
}

impl Current {
    /// The state the `If` header is judged on.
    pub fn state(&self) -> State<'_> {
        State { sync_token: self.sync_token.as_deref(), etag: self.etag.as_deref() }
    }
}

/// The current state of a book or card (its book's sync token and ETag, or a card's ETag, date
/// and its book's sync token); the other resources of the caller's tree are there, untagged.
pub async fn current<B: DavBackend>(backend: &B, user: &DavUser, target: &Target) -> Result<Current, DavError> {
    let (book, card) = match target {
        Target::Book(_, book) => (book, None),
        Target::Card(_, book, card) => (book, Some(card)),
        _ => return Ok(Current { exists: true, ..Current::default() }),
    };
    let info = match backend.book(user, book).await {
        Ok(info) => info,
        Err(BackendError::NotFound) => return Ok(Current::default()),
        Err(other) => return Err(other.into()),
    };
    let sync_token = Some(props::sync_token_uri(info.sync_token));
    let Some(card) = card else {
        return Ok(Current {
            sync_token,
            etag: Some(props::token_text(info.sync_token)),
            modified: None,
            exists: true,
        });
    };
    let found = backend.get_cards(user, book, std::slice::from_ref(card), TextWanted::No).await?;
    let meta = found.into_iter().next().map(|entry| entry.meta);
    Ok(Current {
        sync_token,
        etag: meta.as_ref().map(|m| m.etag.clone()),
        modified: meta.as_ref().map(|m| m.modified),
        exists: meta.is_some(),
    })
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
pub async fn check<B: DavBackend>(
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
    let http_conditions =
        precondition != WritePrecondition::default() && !judged_by_handler(req.method().as_str(), target);
    if if_header.is_none() && !http_conditions {
        return Ok(());
    }
    let current = current(backend, user, target).await?;
    // RFC 9110 13.2.1: conditions are ignored where the answer without them is no success (a
    // resource that is not there is `404`), except for `MKCOL`, which makes one.
    let judged = http_conditions && (current.exists || req.method().as_str() == "MKCOL");
    let allowed = || match (current.exists, current.etag.as_deref()) {
        (true, None) => precondition.allows_untagged(),
        (_, etag) => precondition.allows_at(etag, current.modified),
    };
    let holds = if_header.is_none_or(|condition| condition.holds(current.state())) && (!judged || allowed());
    if holds { Ok(()) } else { Err(BackendError::PreconditionFailed.into()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "http://contacts-api/ns/sync/7-3";

    fn state(token: &'static str, etag: &'static str) -> State<'static> {
        State { sync_token: Some(token), etag: Some(etag) }
    }

    #[test]
    fn a_list_holds_when_all_its_conditions_do_and_the_header_when_any_list_does() {
        let now = state(TOKEN, "e1");
        let holds = |header: &str| IfHeader::parse(header).expect(header).holds(now);
        assert!(holds(&format!("(<{TOKEN}>)")));
        assert!(!holds("(<http://contacts-api/ns/sync/7-2>)"), "a stale token");
        assert!(holds("([\"e1\"])") && holds("([W/\"e1\"])") && !holds("([\"e2\"])"));
        assert!(holds(&format!("(<{TOKEN}> [\"e1\"])")) && !holds(&format!("(<{TOKEN}> [\"e2\"])")));
        assert!(holds("(<urn:x>) ([\"e1\"])"), "any list");
        assert!(holds("(Not <DAV:no-lock>)") && !holds("(<DAV:no-lock>)"));
        assert!(holds(&format!("</dav/addressbooks/ada/contacts/> (<{TOKEN}>)")), "a tagged list");
        assert!(holds(&format!("(<{TOKEN}>")), "a missing ) at the end");
        assert!(!IfHeader::parse("(<urn:x>)").unwrap().holds(State::default()), "no state, no match");
    }

    #[test]
    fn what_is_no_if_header_is_refused() {
        for bad in ["", "<urn:x>", "()", "(urn:x)", "(<urn:x)", "([\"e1\")", "(Nothing)", "x (<urn:x>)"] {
            assert_eq!(IfHeader::parse(bad), None, "{bad}");
        }
    }
}
