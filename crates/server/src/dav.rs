//! [`DavStore`]: CardDAV's [`DavBackend`] over the domain's address-book and app-password
//! services. It lives here, in the composition root, so the CardDAV crate depends on the domain
//! only and storage on nothing inbound: this file translates one trait's vocabulary into the
//! other's, and holds no rule of its own beyond that translation.

use actix_web::web;

use contacts_cache::AnyCache;
use contacts_carddav::{
    BackendError, BookInfo, BookLabel, Card, CardEntry, CardMeta, Change, ChangeSet, ClientOrigin, DavBackend, DavUser,
    PutOutcome, SyncToken, TextWanted, VcardVersion, WritePrecondition,
};
use contacts_domain::addressbook::{
    AddressBookStore, AppPasswordService, Book, BookLabels, CardWrite, ClientProperty, DEFAULT_BOOK, HeldProperty,
    LogRange, MAX_CARD_NAME_BYTES, NamedCard, PropertiesWrite, PropertyChange, PropertyHolder, card_etag, card_text,
};
use contacts_domain::auth::AuthUseCases;
use contacts_domain::contact::StoredCard;
use contacts_domain::contact::vcard::{self, Version};
use contacts_domain::throttle::LoginThrottle;
use contacts_domain::{Conflict, Error, SystemClock};
use contacts_http::{CardWork, TrustedProxies};
use contacts_postgres::{PgAddressBooks, PgAppPasswords};
use std::sync::Arc;

mod parsing;

use parsing::{CardParses, ParsedCard};

/// Longest book name the table keeps, in characters (as long as its display name may be).
const MAX_BOOK_CHARS: usize = BookLabel::DisplayName.max_chars();

/// The CardDAV backend: cheap to clone (pool handles and an `Arc`).
#[derive(Clone)]
pub struct DavStore {
    books: PgAddressBooks,
    passwords: web::Data<AppPasswordService<PgAppPasswords, SystemClock>>,
    auth: Arc<dyn AuthUseCases>,
    throttle: Arc<LoginThrottle<AnyCache>>,
    trusted_proxies: TrustedProxies,
    parses: CardParses,
}

impl DavStore {
    /// A backend over the books store, the app passwords, the access-token check, the login
    /// throttle, the trusted proxies (`TRUSTED_PROXIES`) and the bound on card work REST shares.
    pub fn new(
        books: PgAddressBooks,
        passwords: web::Data<AppPasswordService<PgAppPasswords, SystemClock>>,
        auth: Arc<dyn AuthUseCases>,
        throttle: Arc<LoginThrottle<AnyCache>>,
        trusted_proxies: TrustedProxies,
        card_work: CardWork,
    ) -> Self {
        Self { books, passwords, auth, throttle, trusted_proxies, parses: card_work.into() }
    }

    /// The address a sign-in counts against: the REST login's rule (the peer, or the client a
    /// trusted proxy names), so both doors count alike.
    fn client(&self, origin: &ClientOrigin) -> Option<std::net::IpAddr> {
        origin.peer.map(|peer| self.trusted_proxies.client(peer, origin.forwarded_for.as_deref()))
    }

    /// A sign-in that named no login and failed, counted for its address (see
    /// [`LoginThrottle::nameless_failure`]): the refusal to send.
    async fn count_failure(&self, origin: &ClientOrigin, failure: contacts_domain::Error) -> BackendError {
        match self.client(origin) {
            Some(client) => self.throttle.nameless_failure(client, failure).await.into(),
            None => failure.into(),
        }
    }

    async fn existing_book(&self, user: &DavUser, book: &str) -> Result<Book, BackendError> {
        self.books.book(user.id, book).await?.ok_or(BackendError::NotFound)
    }

    /// `cards` as answers in `text`, on the blocking pool when [`for_the_pool`] says so: a page
    /// of 500 cards REST changed is 500 parses.
    async fn entries(&self, cards: Vec<NamedCard>, text: TextWanted) -> Result<Vec<CardEntry>, BackendError> {
        let heavy = for_the_pool(cards.iter().map(|c| (c.card.card.len(), c.card.dirty)), converts(text));
        let answer = move || cards.into_iter().map(|c| entry(c, text)).collect();
        if heavy { self.parses.run(answer).await } else { Ok(answer()) }
    }
}

/// The token of position `seq` in `book`'s log: identities and numbers are never negative.
fn sync_token(book: &Book, seq: i64) -> SyncToken {
    SyncToken::at(u64::try_from(book.id).unwrap_or(0), u64::try_from(seq).unwrap_or(0))
}

fn info(book: Book) -> BookInfo {
    BookInfo {
        is_default: book.name == DEFAULT_BOOK,
        sync_token: sync_token(&book, book.sync_seq),
        displayname: Some(book.display_name).filter(|d| !d.is_empty()),
        description: Some(book.description).filter(|d| !d.is_empty()),
        name: book.name,
    }
}

fn version(v: VcardVersion) -> Version {
    match v {
        VcardVersion::V3 => Version::V3,
        VcardVersion::V4 => Version::V4,
    }
}

/// Cards up to this size together are copied and hashed on the executor (microseconds); more,
/// like every conversion, on the blocking pool.
const INLINE_CARD_BYTES: usize = 16 * 1024;

/// Whether answering for cards of these `(bytes, dirty)` is work for the blocking pool rather
/// than the executor: a conversion (`converts`), a card REST changed (it is parsed and written
/// again for its text and its ETag), or more bytes to hash than [`INLINE_CARD_BYTES`] in all.
/// One rule for a single `GET` and for a page of a listing, a multiget or a sync.
fn for_the_pool(cards: impl IntoIterator<Item = (usize, bool)>, converts: bool) -> bool {
    let mut bytes = 0;
    converts
        || cards.into_iter().any(|(len, dirty)| {
            bytes += len;
            dirty || bytes > INLINE_CARD_BYTES
        })
}

/// The card's text in `version` (as stored when it already is in it).
fn rendered(stored: &StoredCard, wanted: VcardVersion) -> String {
    vcard::render(&stored.card, &stored.contact, stored.dirty, version(wanted))
}

/// Whether `text` asks for a conversion (which parses every card).
fn converts(text: TextWanted) -> bool {
    matches!(text, TextWanted::Version(_))
}

/// The card's live properties with its text in the stored version, which they describe.
fn meta_and_text(stored: &StoredCard) -> (CardMeta, String) {
    let text = card_text(stored);
    let meta =
        CardMeta { etag: vcard::etag(&text), length: text.len() as u64, modified: stored.contact.updated_at.into() };
    (meta, text)
}

fn entry(card: NamedCard, wanted: TextWanted) -> CardEntry {
    let (meta, stored_text) = meta_and_text(&card.card);
    let text = match wanted {
        TextWanted::No => None,
        TextWanted::AsStored => Some(stored_text),
        TextWanted::Version(v) => Some(rendered(&card.card, v)),
    };
    CardEntry { name: card.href, meta, text }
}

fn write_allows<'a>(precondition: &'a WritePrecondition) -> impl Fn(Option<&StoredCard>) -> bool + Sync + 'a {
    move |current| {
        let current = current.map(|card| (card_etag(card), card.contact.updated_at.into()));
        precondition.allows_card(current.as_ref().map(|(etag, modified)| (etag.as_str(), *modified)))
    }
}

fn checked_book_name(name: &str) -> Result<(), BackendError> {
    if name.chars().count() > MAX_BOOK_CHARS { Err(BackendError::Forbidden) } else { Ok(()) }
}

/// A card name a book can keep ([`MAX_CARD_NAME_BYTES`]); a longer one is refused (`403`), as a
/// book name past its bound is.
fn checked_card_name(name: &str) -> Result<(), BackendError> {
    if name.len() > MAX_CARD_NAME_BYTES { Err(BackendError::Forbidden) } else { Ok(()) }
}

impl DavStore {
    /// The answer to a card's write (`PUT` or `COPY`) of `parsed` under `to` (book, name).
    async fn card_put(
        &self,
        user: &DavUser,
        (book, card): (&str, &str),
        parsed: &ParsedCard,
        written: Result<CardWrite, Error>,
    ) -> Result<PutOutcome, BackendError> {
        let outcome = match written {
            Err(Error::Conflict(Conflict::CardUidTaken)) => {
                // The answer names the card that has the UID (RFC 6352's `no-uid-conflict`).
                let existing = self.books.card_named_by_uid(user.id, book, &parsed.record.uid).await?;
                return Err(BackendError::UidConflict { existing });
            }
            written => written?,
        };
        let created = match outcome {
            CardWrite::Created => true,
            CardWrite::Replaced => false,
            CardWrite::Refused => return Err(BackendError::PreconditionFailed),
            CardWrite::Missing => return Err(BackendError::NotFound),
            // The card at this name has another UID: the answer names the card itself.
            CardWrite::UidChanged => return Err(BackendError::UidConflict { existing: Some(card.to_owned()) }),
        };
        Ok(PutOutcome { created, etag: parsed.stored_as_sent.then_some(parsed.etag.clone()) })
    }
}

/// Labels within their bounds ([`BookLabel::max_chars`]): past one the change is refused (`403`).
fn checked_labels(labels: BookLabels<'_>) -> Result<(), BackendError> {
    if BookLabel::fit(labels) { Ok(()) } else { Err(BackendError::Forbidden) }
}

impl DavBackend for DavStore {
    async fn authenticate_basic(
        &self,
        login: &str,
        password: &str,
        origin: &ClientOrigin,
    ) -> Result<DavUser, BackendError> {
        let attempt = self.passwords.verify(login, password);
        let verified = match self.client(origin) {
            Some(client) => self.throttle.secret_login(login, client, attempt).await,
            None => attempt.await,
        };
        let (id, username) = verified?;
        Ok(DavUser { id, username })
    }

    async fn authenticate_bearer(&self, token: &str, origin: &ClientOrigin) -> Result<DavUser, BackendError> {
        match self.auth.authenticate(token).await {
            Ok(user) => Ok(DavUser { id: user.id, username: user.username }),
            Err(refused @ contacts_domain::Error::Unauthenticated) => Err(self.count_failure(origin, refused).await),
            Err(other) => Err(other.into()),
        }
    }

    async fn refuse_unreadable(&self, origin: &ClientOrigin) -> BackendError {
        self.count_failure(origin, contacts_domain::Error::Unauthenticated).await
    }

    async fn list_books(&self, user: &DavUser) -> Result<Vec<BookInfo>, BackendError> {
        Ok(self.books.books(user.id).await?.into_iter().map(info).collect())
    }

    async fn book(&self, user: &DavUser, book: &str) -> Result<BookInfo, BackendError> {
        self.existing_book(user, book).await.map(info)
    }

    async fn create_book(
        &self,
        user: &DavUser,
        book: &str,
        labels: BookLabels<'_>,
        kept: &[PropertyChange],
    ) -> Result<(), BackendError> {
        checked_book_name(book)?;
        checked_labels(labels)?;
        let (display_name, description) =
            (labels.display_name.unwrap_or_default(), labels.description.unwrap_or_default());
        if self.books.create_book(user.id, book, display_name, description, kept).await? {
            Ok(())
        } else {
            Err(BackendError::AlreadyExists)
        }
    }

    async fn delete_book(&self, user: &DavUser, book: &str) -> Result<(), BackendError> {
        if book == DEFAULT_BOOK {
            // Only once it is known to be the caller's would 403 tell more than 404; the default
            // book always exists, so this is the caller's own.
            return Err(BackendError::Forbidden);
        }
        if self.books.delete_book(user.id, book).await? { Ok(()) } else { Err(BackendError::NotFound) }
    }

    async fn client_properties(&self, user: &DavUser) -> Result<Vec<HeldProperty>, BackendError> {
        Ok(self.books.client_properties(user.id).await?)
    }

    async fn card_properties(
        &self,
        user: &DavUser,
        book: &str,
        names: &[String],
    ) -> Result<Vec<(String, ClientProperty)>, BackendError> {
        Ok(self.books.card_properties(user.id, book, names).await?)
    }

    async fn change_client_properties(
        &self,
        user: &DavUser,
        holder: PropertyHolder<'_>,
        labels: BookLabels<'_>,
        changes: &[PropertyChange],
    ) -> Result<bool, BackendError> {
        checked_labels(labels)?;
        match self.books.change_client_properties(user.id, holder, labels, changes).await? {
            PropertiesWrite::Done => Ok(true),
            PropertiesWrite::Full => Ok(false),
            PropertiesWrite::Missing => Err(BackendError::NotFound),
        }
    }

    async fn list_cards(
        &self,
        user: &DavUser,
        book: &str,
        after: Option<&str>,
        limit: usize,
        text: TextWanted,
    ) -> Result<Vec<CardEntry>, BackendError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let cards = self.books.cards(user.id, book, after, limit).await?.ok_or(BackendError::NotFound)?;
        self.entries(cards, text).await
    }

    async fn get_cards(
        &self,
        user: &DavUser,
        book: &str,
        names: &[String],
        text: TextWanted,
    ) -> Result<Vec<CardEntry>, BackendError> {
        let cards = self.books.cards_named(user.id, book, names).await?.ok_or(BackendError::NotFound)?;
        self.entries(cards, text).await
    }

    async fn get_card(
        &self,
        user: &DavUser,
        book: &str,
        card: &str,
        version: Option<VcardVersion>,
    ) -> Result<Card, BackendError> {
        let stored = self.books.card(user.id, book, card).await?.ok_or(BackendError::NotFound)?;
        let heavy = for_the_pool([(stored.card.len(), stored.dirty)], version.is_some());
        // The card's one tag whatever the version asked for: the tag listings, multiget and
        // sync report, which clients keep and send back in `If-Match` (DAVx5 keeps the tag of
        // a GET that asked for 4.0; a tag of its own there made every later edit a `412`).
        let text_and_tag = move || {
            let (meta, stored_text) = meta_and_text(&stored);
            let text = match version {
                Some(v) => rendered(&stored, v),
                None => stored_text,
            };
            (text, meta)
        };
        // Converting a card, rewriting what REST changed in it, or hashing a big one for its
        // ETag is CPU work on up to 1 MiB: it goes where PUT's parse goes, off the executor.
        let (text, meta) = if heavy { self.parses.run(text_and_tag).await? } else { text_and_tag() };
        Ok(Card { text, etag: meta.etag, modified: meta.modified })
    }

    async fn put_card(
        &self,
        user: &DavUser,
        book: &str,
        card: &str,
        body: &[u8],
        precondition: &WritePrecondition,
    ) -> Result<PutOutcome, BackendError> {
        if body.len() > contacts_carddav::MAX_CARD_BYTES {
            return Err(BackendError::TooLarge);
        }
        checked_card_name(card)?;
        // Parsing up to 1 MiB of vCard is CPU work: off the async executor, bounded.
        let parsed = self.parses.parse(body.to_vec()).await?;
        let allows = write_allows(precondition);
        let written = self.books.put_card(user.id, book, card, &parsed.record, &allows).await;
        self.card_put(user, (book, card), &parsed, written).await
    }

    async fn copy_card(
        &self,
        user: &DavUser,
        from: (&str, &str),
        to: (&str, &str),
        precondition: &WritePrecondition,
    ) -> Result<PutOutcome, BackendError> {
        checked_card_name(to.1)?;
        let source = self.get_card(user, from.0, from.1, None).await?;
        let parsed = self.parses.parse(source.text.into_bytes()).await?;
        let allows = write_allows(precondition);
        let written = self.books.copy_card(user.id, from, to, &parsed.record, &allows).await;
        self.card_put(user, to, &parsed, written).await
    }

    async fn move_card(
        &self,
        user: &DavUser,
        from: (&str, &str),
        to: (&str, &str),
        overwrite: bool,
        precondition: &WritePrecondition,
    ) -> Result<bool, BackendError> {
        checked_card_name(to.1)?;
        let allows = write_allows(precondition);
        let moved = match self.books.move_card(user.id, from, to, overwrite, &allows).await {
            Err(Error::Conflict(Conflict::CardUidTaken)) => {
                // The answer names the destination book's card that has the UID.
                let uid = self.books.card(user.id, from.0, from.1).await?.map(|c| c.contact.uid);
                let existing = match uid {
                    Some(uid) => self.books.card_named_by_uid(user.id, to.0, &uid).await?,
                    None => None,
                };
                return Err(BackendError::UidConflict { existing });
            }
            moved => moved?,
        };
        match moved {
            CardWrite::Created => Ok(true),
            CardWrite::Replaced => Ok(false),
            CardWrite::Refused => Err(BackendError::PreconditionFailed),
            CardWrite::Missing => Err(BackendError::NotFound),
            CardWrite::UidChanged => Err(BackendError::UidConflict { existing: Some(to.1.to_owned()) }),
        }
    }

    async fn delete_card(
        &self,
        user: &DavUser,
        book: &str,
        card: &str,
        precondition: &WritePrecondition,
    ) -> Result<(), BackendError> {
        let allows = write_allows(precondition);
        match self.books.delete_card(user.id, book, card, &allows).await? {
            CardWrite::Refused => Err(BackendError::PreconditionFailed),
            CardWrite::Missing => Err(BackendError::NotFound),
            // A delete answers `Created` for "deleted"; the others are a put's.
            CardWrite::Created | CardWrite::Replaced | CardWrite::UidChanged => Ok(()),
        }
    }

    async fn changes_since(
        &self,
        user: &DavUser,
        book: &str,
        token: Option<SyncToken>,
        until: Option<u64>,
        limit: Option<usize>,
    ) -> Result<ChangeSet, BackendError> {
        // A number past any a book reaches is refused below, once the book is known to exist
        // (a book that is gone is a 404 whatever the token).
        let number = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let since = token.map_or(0, |token| number(token.seq));
        let range = LogRange {
            after: since,
            until: until.map(number),
            limit: limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX)),
        };
        let (info, mut log) = self.books.changes(user.id, book, range).await?.ok_or(BackendError::NotFound)?;
        // The last number this read could reach; `until` is never past the book's (its numbers
        // only grow), unless the book was made again, whose token is refused below.
        let bound = range.until.map_or(info.sync_seq, |until| until.min(info.sync_seq));
        // Where the answer stops: the last change read, or where it started if the limit let it
        // read none (`nresults` 0); cut short when changes remain past it.
        let reached = log.last().map_or(since, |c| c.seq);
        let truncated = range.limit.is_some_and(|l| log.len() as i64 >= l) && reached < bound;
        // Up to where the client has seen every deletion (see `SyncToken::horizon`): a first
        // sync lists the book as it is now.
        let horizon = token.map_or(info.sync_seq, |token| number(token.horizon));
        match token {
            // Checked against the book read with its log: a token of a book since deleted and
            // made again under this name is refused, never read as a position in the new one;
            // so is one whose client may have missed deletions the book has forgotten.
            Some(token) => {
                if i64::try_from(token.book).ok() != Some(info.id)
                    || horizon > info.sync_seq
                    || horizon < info.sync_floor
                {
                    return Err(BackendError::InvalidSyncToken);
                }
            }
            // From the start every card has its entry in the log; its tombstones are of cards
            // an initial sync never had.
            None => log.retain(|change| change.card.is_some()),
        }
        let next = if truncated { reached } else { bound };
        let token = SyncToken { horizon: u64::try_from(horizon.max(next)).unwrap_or(0), ..sync_token(&info, next) };
        // The cards' ETags: hashes, and parses for cards REST changed.
        let heavy = for_the_pool(log.iter().filter_map(|c| c.card.as_ref()).map(|c| (c.card.len(), c.dirty)), false);
        let changes = move || {
            log.into_iter()
                .map(|c| Change { name: c.href, meta: c.card.as_ref().map(|c| meta_and_text(c).0) })
                .collect()
        };
        let changes = if heavy { self.parses.run(changes).await? } else { changes() };
        Ok(ChangeSet { changes, token, truncated, until: u64::try_from(bound).unwrap_or(0) })
    }

    async fn offload<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, BackendError> {
        self.parses.run(work).await
    }

    async fn offload_if_free<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, BackendError> {
        self.parses.run_if_free(work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_clean_cards_are_answered_on_the_executor_and_other_work_on_the_pool() {
        let small = (600, false);
        assert!(!for_the_pool([], false), "nothing to do");
        assert!(!for_the_pool([small; 27], false), "27 small cards: 16,200 bytes to hash");
        assert!(!for_the_pool([(INLINE_CARD_BYTES, false)], false), "one card at the limit");
        assert!(for_the_pool([small; 28], false), "28 small cards: 16,800 bytes");
        assert!(for_the_pool([(INLINE_CARD_BYTES + 1, false)], false), "one big card");
        assert!(for_the_pool([small, (600, true)], false), "a card REST changed is parsed");
        assert!(for_the_pool([small], true), "a conversion parses");
        assert!(for_the_pool([], true), "a conversion, whatever the cards");
    }
}
