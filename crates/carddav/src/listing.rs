//! Streamed multistatus bodies: a book's cards read page by page and written response by
//! response, so memory does not grow with the book (PROPFIND depth 1, addressbook-query, an
//! initial sync-collection) or with the number of hrefs (addressbook-multiget).

use std::collections::VecDeque;

use actix_web::web::{self, Bytes};
use futures_util::{Stream, StreamExt, stream};

use contacts_domain::addressbook::ClientProperty;

use crate::backend::{CardEntry, DavBackend, DavUser, TextWanted};
use crate::client_props::{kept_on_cards, on_card};
use crate::error::DavError;
use crate::filter;
use crate::paths;
use crate::props::{self, Resource, Wanted};
use crate::xml::Name;
use crate::xml::parse::{CardPart, Filter};
use crate::xml::write::{self, Response};

/// Cards read from the backend at a time.
pub const PAGE: usize = 500;

/// What to list and how to answer for each card.
pub struct Listing<B> {
    /// The backend.
    pub backend: web::Data<B>,
    /// The caller.
    pub user: DavUser,
    /// The book's name.
    pub book: String,
    /// Properties asked for (`None`: allprop).
    pub props: Option<Vec<Name>>,
    /// Which text to read with each card.
    pub text: TextWanted,
    /// Whether the text is sent (`address-data` asked for) or only used for filtering.
    pub send_text: bool,
    /// The card properties sent when only some are asked for.
    pub parts: Option<Vec<CardPart>>,
    /// The query's filter and limit, for addressbook-query.
    pub filter: Option<(Filter, Option<usize>)>,
    /// Bytes sent before the cards (the multistatus start, and the book's own response).
    pub head: Bytes,
    /// The sync token written at the end (an initial sync-collection).
    pub sync_token: Option<String>,
}

enum Phase {
    Head,
    Pages { after: Option<String> },
    Tail,
    Done,
}

/// What a listing's or report's property list asks for (`None`: allprop).
pub fn wanted(props: Option<&[Name]>) -> Wanted<'_> {
    match props {
        Some(names) => Wanted::Props(names),
        None => Wanted::All(&[]),
    }
}

/// The answer for one card of a listing or a report; `parts`: only those properties of its
/// text (an `address-data` with `prop` children); `kept`: the properties clients keep on it.
pub fn card_response(
    user: &DavUser,
    book_href: &str,
    entry: &CardEntry,
    props: Option<&[Name]>,
    parts: Option<&[CardPart]>,
    kept: &[&ClientProperty],
) -> Bytes {
    let wanted = wanted(props);
    let partial;
    let entry = match (parts, &entry.text) {
        (Some(parts), Some(text)) => {
            partial = CardEntry { text: Some(crate::parts::select(text, parts)), ..entry.clone() };
            &partial
        }
        _ => entry,
    };
    write::response(&Response::Props {
        href: paths::card_href(book_href, &entry.name),
        propstats: props::propstats(user, Resource::Card(entry), wanted, kept),
    })
}

/// A failure met while an answer's body is made, as the body's error: `multistatus::send`
/// answers it when no status line has gone out yet, else logs it and cuts the answer.
pub(crate) fn failed(error: DavError) -> actix_web::Error {
    error.into()
}

impl<B: DavBackend> Listing<B> {
    /// The body: head, then every card (filtered, limited), then the end.
    pub fn stream(self) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
        let book_href = paths::book_href(&self.user.username, &self.book);
        let state = (self, Phase::Head, 0usize, book_href);
        stream::unfold(state, |(mut listing, phase, mut matched, book_href)| async move {
            match phase {
                Phase::Head => {
                    let head = std::mem::take(&mut listing.head);
                    Some((Ok(head), (listing, Phase::Pages { after: None }, matched, book_href)))
                }
                Phase::Pages { after } => {
                    let page = listing
                        .backend
                        .list_cards(&listing.user, &listing.book, after.as_deref(), PAGE, listing.text)
                        .await;
                    let page = match page {
                        Ok(page) => page,
                        Err(e) => return Some((Err(failed(e.into())), (listing, Phase::Done, matched, book_href))),
                    };
                    let last = page.last().map(|c| c.name.clone());
                    let full = page.len() >= PAGE;
                    let names: Vec<String> = page.iter().map(|c| c.name.clone()).collect();
                    let wanted = wanted(listing.props.as_deref());
                    let kept = kept_on_cards(listing.backend.get_ref(), &listing.user, &listing.book, &names, wanted);
                    let kept = match kept.await {
                        Ok(kept) => kept,
                        Err(e) => return Some((Err(failed(e.into())), (listing, Phase::Done, matched, book_href))),
                    };
                    let mut out = Vec::new();
                    let mut truncated = false;
                    for mut entry in page {
                        if let Some((filter, limit)) = &listing.filter {
                            if !entry.text.as_deref().is_some_and(|t| filter::matches(filter, t)) {
                                continue;
                            }
                            if limit.is_some_and(|l| matched >= l) {
                                truncated = true;
                                break;
                            }
                        }
                        matched += 1;
                        if !listing.send_text {
                            entry.text = None;
                        }
                        out.extend_from_slice(&card_response(
                            &listing.user,
                            &book_href,
                            &entry,
                            listing.props.as_deref(),
                            listing.parts.as_deref(),
                            &on_card(&kept, &entry.name),
                        ));
                    }
                    if truncated {
                        // RFC 6352, 8.6.1: a 507 on the request URI says the results were cut.
                        out.extend_from_slice(&write::response(&Response::Truncated { href: book_href.clone() }));
                    }
                    let next = match last {
                        Some(after) if full && !truncated => Phase::Pages { after: Some(after) },
                        _ => Phase::Tail,
                    };
                    Some((Ok(Bytes::from(out)), (listing, next, matched, book_href)))
                }
                Phase::Tail => {
                    let tail = write::multistatus_end(listing.sync_token.as_deref());
                    Some((Ok(tail), (listing, Phase::Done, matched, book_href)))
                }
                Phase::Done => None,
            }
        })
    }
}

/// A multiget's answer, fetched a page of names at a time: found cards with their properties,
/// others `404`.
pub struct Multiget<B> {
    /// The backend.
    pub backend: web::Data<B>,
    /// The caller.
    pub user: DavUser,
    /// The book's name.
    pub book: String,
    /// Properties asked for.
    pub props: Vec<Name>,
    /// Which text to read with each card.
    pub text: TextWanted,
    /// The card properties sent when only some are asked for.
    pub parts: Option<Vec<CardPart>>,
    /// Pages of (href as sent back, card name in this book or `None` for hrefs outside it).
    pub pages: VecDeque<Vec<(String, Option<String>)>>,
}

impl<B: DavBackend> Multiget<B> {
    /// The body: start, the responses page by page, end.
    pub fn stream(self) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
        let book_href = paths::book_href(&self.user.username, &self.book);
        stream::once(async { Ok(write::multistatus_start()) }).chain(stream::unfold(
            (self, false, book_href),
            |(mut this, done, book_href)| async move {
                if done {
                    return None;
                }
                let Some(page) = this.pages.pop_front() else {
                    return Some((Ok(write::multistatus_end(None)), (this, true, book_href)));
                };
                let names: Vec<String> = page.iter().filter_map(|(_, n)| n.clone()).collect();
                let found = if names.is_empty() {
                    Vec::new()
                } else {
                    match this.backend.get_cards(&this.user, &this.book, &names, this.text).await {
                        Ok(found) => found,
                        Err(e) => return Some((Err(failed(e.into())), (this, true, book_href))),
                    }
                };
                let wanted = Wanted::Props(&this.props);
                let kept = match kept_on_cards(this.backend.get_ref(), &this.user, &this.book, &names, wanted).await {
                    Ok(kept) => kept,
                    Err(e) => return Some((Err(failed(e.into())), (this, true, book_href))),
                };
                let mut out = Vec::new();
                for (href, name) in &page {
                    match name.as_ref().and_then(|n| found.iter().find(|c| &c.name == n)) {
                        Some(entry) => out.extend_from_slice(&card_response(
                            &this.user,
                            &book_href,
                            entry,
                            Some(&this.props),
                            this.parts.as_deref(),
                            &on_card(&kept, &entry.name),
                        )),
                        None => out
                            .extend_from_slice(&write::response(&Response::Status { href: href.clone(), status: 404 })),
                    }
                }
                Some((Ok(Bytes::from(out)), (this, false, book_href)))
            },
        ))
    }
}
