//! `sync-collection` from a token (or an initial one the client limited): the changes since it,
//! read a page of [`PAGE`] at a time. The first page is read before the answer starts, so a bad
//! token or a missing book is still a plain `403`/`404`; a sync with more changes than a page
//! (a phone that was away while thousands of cards changed) streams the rest, so memory does
//! not grow with what changed. An initial sync without a limit is a [`Listing`] instead.
//!
//! [`Listing`]: crate::listing::Listing

use std::collections::HashMap;

use actix_web::web::{self, Bytes};
use futures_util::{Stream, StreamExt, stream};

use crate::backend::{BackendError, CardEntry, ChangeSet, DavBackend, DavUser, SyncToken, TextWanted};
use crate::client_props::{kept_on_cards, on_card};
use crate::error::DavError;
use crate::listing::{PAGE, card_response, failed};
use crate::paths;
use crate::props::{self, Wanted};
use crate::xml::Name;
use crate::xml::parse::{CardPart, ReportProps};
use crate::xml::write::{self, Response};

/// What a sync reads and answers for each change.
struct SyncPages<B> {
    backend: web::Data<B>,
    user: DavUser,
    book: String,
    book_href: String,
    text: TextWanted,
    props: Vec<Name>,
    parts: Option<Vec<CardPart>>,
}

/// The body of the answer to a sync from `since` (`None`: from the book's start, which only a
/// limited initial sync reads here). A client's `limit` caps the whole answer (at most a page,
/// ending with a `507` when changes remain); without one, pages follow each other until the log
/// is read, and the token given is the book's.
pub async fn body<B: DavBackend>(
    backend: web::Data<B>,
    user: DavUser,
    book: String,
    since: Option<SyncToken>,
    props: ReportProps,
    limit: Option<usize>,
) -> Result<impl Stream<Item = Result<Bytes, actix_web::Error>>, DavError> {
    let book_href = paths::book_href(&user.username, &book);
    let pages = SyncPages {
        backend,
        user,
        book,
        book_href,
        text: props.text_wanted(),
        parts: props.parts(),
        props: props.names,
    };
    let first = pages
        .backend
        .changes_since(&pages.user, &pages.book, since, None, Some(limit.unwrap_or(PAGE).min(PAGE)))
        .await?;
    let mut head = write::multistatus_start().to_vec();
    head.extend_from_slice(&pages.responses(&first).await?);
    if limit.is_some() || !first.truncated {
        if first.truncated {
            // RFC 6578, 3.6: a 507 on the request URI says the answer was cut.
            head.extend_from_slice(&write::response(&Response::Truncated { href: pages.book_href.clone() }));
        }
        head.extend_from_slice(&write::multistatus_end(Some(&props::sync_token_uri(first.token))));
        return Ok(stream::once(async { Ok(Bytes::from(head)) }).left_stream());
    }
    Ok(pages.rest(Bytes::from(head), first.token, first.until).right_stream())
}

impl<B: DavBackend> SyncPages<B> {
    /// `head`, then the pages after `token` up to `until` (where the first page saw the book)
    /// until one is the last, then the end with the token that last page gave.
    fn rest(self, head: Bytes, token: SyncToken, until: u64) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
        let pages = stream::unfold((self, Some(token)), move |(pages, token)| async move {
            let token = token?;
            let page =
                pages.backend.changes_since(&pages.user, &pages.book, Some(token), Some(until), Some(PAGE)).await;
            let page = match page {
                Ok(page) => page,
                Err(e) => return Some((Err(failed(e.into())), (pages, None))),
            };
            let mut out = match pages.responses(&page).await {
                Ok(out) => out,
                Err(e) => return Some((Err(failed(e.into())), (pages, None))),
            };
            if page.truncated {
                return Some((Ok(Bytes::from(out)), (pages, Some(page.token))));
            }
            out.extend_from_slice(&write::multistatus_end(Some(&props::sync_token_uri(page.token))));
            Some((Ok(Bytes::from(out)), (pages, None)))
        });
        stream::once(async { Ok(head) }).chain(pages)
    }

    /// One response per change of `page`: the card's properties (with its text when asked
    /// for), or a `404` member for a card deleted since (RFC 6578).
    async fn responses(&self, page: &ChangeSet) -> Result<Vec<u8>, BackendError> {
        // The cards still there (the others are deletions).
        let present: Vec<String> = page.changes.iter().filter(|c| c.meta.is_some()).map(|c| c.name.clone()).collect();
        let texts = if self.text == TextWanted::No {
            Vec::new()
        } else {
            self.backend.get_cards(&self.user, &self.book, &present, self.text).await?
        };
        // By name: a page has up to 500 changes, too many to search a list for each.
        let texts: HashMap<&str, &CardEntry> = texts.iter().map(|entry| (entry.name.as_str(), entry)).collect();
        let wanted = Wanted::Props(&self.props);
        let kept = kept_on_cards(self.backend.get_ref(), &self.user, &self.book, &present, wanted).await?;
        let mut out = Vec::new();
        for change in &page.changes {
            let entry = match (&change.meta, self.text) {
                (None, _) => None,
                (Some(meta), TextWanted::No) => {
                    Some(CardEntry { name: change.name.clone(), meta: meta.clone(), text: None })
                }
                (Some(_), _) => texts.get(change.name.as_str()).map(|entry| (*entry).clone()),
            };
            let response = match entry {
                Some(entry) => {
                    let kept = on_card(&kept, &entry.name);
                    card_response(&self.user, &self.book_href, &entry, Some(&self.props), self.parts.as_deref(), &kept)
                }
                None => write::response(&Response::Status {
                    href: paths::card_href(&self.book_href, &change.name),
                    status: 404,
                }),
            };
            out.extend_from_slice(&response);
        }
        Ok(out)
    }
}
