//! [`DavBackend`]: everything the CardDAV protocol layer needs from the rest of the system.
//!
//! This trait is to move into the domain as the address-book use cases when storage lands: its
//! types are plain data (no HTTP, no XML), and its one error type, [`BackendError`], is mapped to
//! DAV statuses in exactly one place (`error.rs`). The protocol layer never checks a rule that
//! storage must enforce atomically (preconditions, UID uniqueness): it passes them down.
//!
//! Names of address books and cards are the decoded path segments (any UTF-8, spaces
//! included), compared exactly, case included. ETags are opaque strings without quotes (they
//! must not contain `"`); the protocol layer quotes them. Sync tokens ([`SyncToken`]) name one
//! incarnation of a book and a position in its change log that grows with every change of its
//! cards (never reused, never decreasing).

use std::net::IpAddr;
use std::time::SystemTime;

use contacts_domain::addressbook::{BookLabels, ClientProperty, HeldProperty, PropertyChange, PropertyHolder};
use contacts_domain::user::UserId;

/// A signed-in DAV user: who the request speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DavUser {
    /// Database identity; every backend call is scoped to it.
    pub id: UserId,
    /// Login name as stored; it names the user's DAV paths (`/dav/principals/{username}/`).
    pub username: String,
}

/// Where a sign-in attempt came from, so failures count towards that address's login throttle.
///
/// The raw `X-Forwarded-For` is passed on untrusted: only the backend knows which proxies are
/// trusted (`TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientOrigin {
    /// The TCP peer's address.
    pub peer: Option<IpAddr>,
    /// The request's `X-Forwarded-For` lines as sent, joined with commas in order (the last hop
    /// last); `None` without the header.
    pub forwarded_for: Option<String>,
}

/// A position in one book's change log, as a sync token (also the `getctag`) carries it.
///
/// `book` tells incarnations of a book apart: a book deleted and made again under the same
/// name restarts its log, so without it a token of the old book could be taken for a position
/// in the new one and its changes missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyncToken {
    /// The identity of this incarnation of the book, never reused by another.
    pub book: u64,
    /// The number of the book's latest change the token covers.
    pub seq: u64,
    /// Up to where its holder has seen every deletion: `seq` for a token a finished sync gave;
    /// for one resuming a first sync cut short by a limit, the book's number when that sync
    /// began (its cards were listed as of then, so a deletion before it is of a card the client
    /// never had). A token whose horizon is below the deletions the book has forgotten (its
    /// purged tombstones) is refused.
    pub horizon: u64,
}

impl SyncToken {
    /// The token of a sync that has seen everything up to `seq`.
    pub fn at(book: u64, seq: u64) -> Self {
        Self { book, seq, horizon: seq }
    }
}

/// One address book as the protocol layer shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookInfo {
    /// Its path segment under the user's home (`contacts` for the default one).
    pub name: String,
    /// Its human-readable name, if one was set.
    pub displayname: Option<String>,
    /// What it holds (`addressbook-description`), if one was set.
    pub description: Option<String>,
    /// The current sync token (also the `getctag`): it changes with every change of a card.
    pub sync_token: SyncToken,
    /// Whether it is the user's default book (made with the account, never deleted).
    pub is_default: bool,
}

/// A property of a book its owner's clients may set (`PROPPATCH`, extended `MKCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookLabel {
    /// `DAV:displayname`.
    DisplayName,
    /// `CARDDAV:addressbook-description` (RFC 6352, 6.2.1).
    Description,
}

impl BookLabel {
    /// The most characters the label may hold (a display name as a book's name; a description a
    /// paragraph, as a contact's note): the table's checks too.
    pub const fn max_chars(self) -> usize {
        match self {
            Self::DisplayName => 255,
            Self::Description => 1000,
        }
    }

    /// Whether `value` fits the label ([`Self::max_chars`]); one that does not is refused
    /// (`403`) before anything of its request changes.
    pub fn accepts(self, value: &str) -> bool {
        value.chars().count() <= self.max_chars()
    }

    /// Whether every label `labels` sets fits its bound ([`Self::accepts`]).
    pub fn fit(labels: BookLabels<'_>) -> bool {
        labels.display_name.is_none_or(|v| Self::DisplayName.accepts(v))
            && labels.description.is_none_or(|v| Self::Description.accepts(v))
    }

    /// The label of `labels` this is, for a change to set.
    pub fn in_labels<'l, 'a>(self, labels: &'l mut BookLabels<'a>) -> &'l mut Option<&'a str> {
        match self {
            Self::DisplayName => &mut labels.display_name,
            Self::Description => &mut labels.description,
        }
    }

    /// The label a property name stands for, if it is one.
    pub fn of(name: &crate::xml::Name) -> Option<Self> {
        if name.is_dav("displayname") {
            Some(Self::DisplayName)
        } else if name.is_carddav("addressbook-description") {
            Some(Self::Description)
        } else {
            None
        }
    }
}

/// A vCard version a client can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VcardVersion {
    /// vCard 3.0 (RFC 2426), what iOS writes.
    V3,
    /// vCard 4.0 (RFC 6350), what cards made through REST are stored as.
    V4,
}

impl VcardVersion {
    /// The version as written in media types and `address-data` (`3.0`, `4.0`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V3 => "3.0",
            Self::V4 => "4.0",
        }
    }

    /// Parses `3.0` or `4.0`; anything else is not a version we serve.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "3.0" => Some(Self::V3),
            "4.0" => Some(Self::V4),
            _ => None,
        }
    }
}

/// Which text of a card a read wants along with its name and ETag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextWanted {
    /// Only names and ETags: a listing (PROPFIND) never needs the text.
    No,
    /// The text as stored (byte for byte for a card stored by `PUT`).
    AsStored,
    /// The text converted to this version (the vCard helper's conversion) when it was stored
    /// in another; as stored when it already is in that version.
    Version(VcardVersion),
}

/// What a listing says of a stored card besides its name and text: its live properties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardMeta {
    /// The stored card's ETag (unquoted).
    pub etag: String,
    /// Bytes of the text the ETag is of, the body of a `GET` that asks for no other version:
    /// `getcontentlength`, which RFC 4918 requires of a resource whose `GET` sends a length.
    pub length: u64,
    /// When the card last changed, by any protocol: `getlastmodified`.
    pub modified: SystemTime,
}

/// One card in a listing or a multiget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardEntry {
    /// Its path segment in the book.
    pub name: String,
    /// Its ETag, length and last change.
    pub meta: CardMeta,
    /// Its text, when it was asked for.
    pub text: Option<String>,
}

/// One card read on its own (`GET`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The card's text in the representation asked for.
    pub text: String,
    /// The card's ETag (unquoted), the same whatever version was asked for: the tag listings,
    /// multiget and sync report for it, which clients keep and send back in `If-Match`. The
    /// response varies by `Accept` and says so.
    pub etag: String,
    /// When the card last changed: `Last-Modified`, and what `If-Modified-Since` is judged on.
    pub modified: SystemTime,
}

/// Whether a resource last changed at `modified` is unchanged since `since`, to the second
/// (HTTP dates have no finer precision; RFC 9110 13.1.3 and 13.1.4).
pub fn unchanged_since(modified: SystemTime, since: SystemTime) -> bool {
    let seconds = |t: SystemTime| t.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    seconds(modified) <= seconds(since)
}

/// An ETag condition from `If-Match` or `If-None-Match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EtagMatch {
    /// `*`: any current representation.
    Any,
    /// A list of (unquoted) strong ETags.
    Tags(Vec<String>),
}

impl EtagMatch {
    /// Whether the condition holds for a resource whose current ETag is `current` (`None`:
    /// the resource does not exist).
    pub fn matches(&self, current: Option<&str>) -> bool {
        match (self, current) {
            (_, None) => false,
            (Self::Any, Some(_)) => true,
            (Self::Tags(tags), Some(etag)) => tags.iter().any(|t| t == etag),
        }
    }
}

/// The preconditions of a write (`PUT`, `DELETE`): storage checks them in the same transaction
/// as the write (row locked), so two clients cannot both win.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WritePrecondition {
    /// `If-Match`: the write goes ahead only if the card exists and matches.
    pub if_match: Option<EtagMatch>,
    /// `If-None-Match`: the write goes ahead only if the card does not match (`*`: does not
    /// exist).
    pub if_none_match: Option<EtagMatch>,
    /// `If-Unmodified-Since`: without `If-Match`, the write goes ahead only if an existing card
    /// has not changed since (RFC 9110 13.1.4).
    pub if_unmodified_since: Option<SystemTime>,
}

impl WritePrecondition {
    /// Whether a write may go ahead given the card's current ETag (`None`: no such card).
    pub fn allows(&self, current: Option<&str>) -> bool {
        let if_match = self.if_match.as_ref().is_none_or(|m| m.matches(current));
        let if_none_match = self.if_none_match.as_ref().is_none_or(|m| !m.matches(current));
        if_match && if_none_match
    }

    /// [`allows`](Self::allows), with `If-Unmodified-Since` judged too, given the card's current
    /// ETag and last change (`None`: no such card, which has no date to judge).
    pub fn allows_card(&self, current: Option<(&str, SystemTime)>) -> bool {
        self.allows_at(current.map(|(etag, _)| etag), current.map(|(_, modified)| modified))
    }

    /// Whether a request may go ahead on a resource that is there without an entity tag (a
    /// home, a principal): `If-Match: *` holds and a list of tags does not (none can match);
    /// `If-None-Match` the other way round (RFC 9110 13.1.1, 13.1.2). It has no date either.
    pub fn allows_untagged(&self) -> bool {
        let if_match = self.if_match.as_ref().is_none_or(|m| matches!(m, EtagMatch::Any));
        let if_none_match = self.if_none_match.as_ref().is_none_or(|m| matches!(m, EtagMatch::Tags(_)));
        if_match && if_none_match
    }

    /// [`allows_card`](Self::allows_card) for any resource: its ETag (`None`: it does not
    /// exist) and its last change (`None`: none known, so `If-Unmodified-Since` is ignored, as
    /// RFC 9110 13.1.4 asks).
    pub fn allows_at(&self, etag: Option<&str>, modified: Option<SystemTime>) -> bool {
        let unmodified = self.if_match.is_some()
            || match (self.if_unmodified_since, modified) {
                (Some(since), Some(modified)) => unchanged_since(modified, since),
                _ => true,
            };
        unmodified && self.allows(etag)
    }
}

/// What a `PUT` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutOutcome {
    /// `true` when it created the card (`201`), `false` when it replaced one (`204`).
    pub created: bool,
    /// The stored card's new ETag (unquoted), given only when the stored bytes are exactly the
    /// bytes sent: only then may the response carry it (a client would otherwise believe it
    /// holds the stored version).
    pub etag: Option<String>,
}

/// One entry of a book's change log since a sync token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The card's path segment.
    pub name: String,
    /// Its current ETag, length and last change, or `None` when the latest change deleted it
    /// (a tombstone).
    pub meta: Option<CardMeta>,
}

/// What changed in a book since a sync token, oldest change first, one entry per card (its
/// latest state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeSet {
    /// The changed and deleted cards.
    pub changes: Vec<Change>,
    /// The token to use next time: the book's current one, or, when `truncated`, the position
    /// of the last change returned.
    pub token: SyncToken,
    /// Whether more changes exist after `token` (the client's limit was reached).
    pub truncated: bool,
    /// The last change number the read could reach: the book's number then, or the `until` it
    /// was given. An answer read in pages passes its first read's back as `until`.
    pub until: u64,
}

/// Everything a backend call can fail with; `error.rs` maps each to one DAV answer.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// No such user, book or card (or not the caller's): `404`.
    #[error("not found")]
    NotFound,
    /// Wrong or revoked credentials: `401`.
    #[error("unauthenticated")]
    Unauthenticated,
    /// Too many failed sign-ins from this address: `429` with `Retry-After`.
    #[error("too many failed sign-ins")]
    Throttled {
        /// Seconds until sign-in may be tried again.
        retry_after: u64,
    },
    /// The action is not allowed (deleting the default book): `403`.
    #[error("forbidden")]
    Forbidden,
    /// The book already exists (`MKCOL`): `405`.
    #[error("already exists")]
    AlreadyExists,
    /// An `If-Match` / `If-None-Match` condition failed: `412`.
    #[error("precondition failed")]
    PreconditionFailed,
    /// Another card of the book has this card's `UID`: `409` `CARDDAV:no-uid-conflict`.
    #[error("uid conflict")]
    UidConflict {
        /// The name of the card that already holds the UID, when known.
        existing: Option<String>,
    },
    /// The body is not a vCard (or has neither a name nor an `FN`): `400`
    /// `CARDDAV:valid-address-data`.
    #[error("not a valid vCard: {0}")]
    InvalidCard(String),
    /// A vCard in a version or charset the server does not store: `415`
    /// `CARDDAV:supported-address-data`.
    #[error("unsupported address data")]
    UnsupportedCard,
    /// The card is larger than the server keeps: `413` `CARDDAV:max-resource-size`.
    #[error("card too large")]
    TooLarge,
    /// The sync token is unknown, of another incarnation of the book, from the future or older
    /// than the kept tombstones: `403` `DAV:valid-sync-token`.
    #[error("invalid sync token")]
    InvalidSyncToken,
    /// A backing service cannot be reached: `503`.
    #[error("service temporarily unavailable")]
    Unavailable(#[source] contacts_domain::error::BoxError),
    /// Anything else (a bug): `500`, logged with its cause, never shown.
    #[error("unexpected error")]
    Unexpected(#[source] contacts_domain::error::BoxError),
}

impl From<contacts_domain::Error> for BackendError {
    fn from(error: contacts_domain::Error) -> Self {
        use contacts_domain::Error as E;
        match error {
            E::NotFound(_) => Self::NotFound,
            E::Unauthenticated | E::InvalidCredentials | E::EmailNotConfirmed => Self::Unauthenticated,
            E::RateLimited { retry_after } | E::LoginThrottled { retry_after } => Self::Throttled { retry_after },
            E::Forbidden => Self::Forbidden,
            E::Conflict(_) => Self::UidConflict { existing: None },
            E::Invalid(problems) => Self::InvalidCard(
                problems.iter().map(|p| format!("{}: {}", p.field(), p.rule)).collect::<Vec<_>>().join("; "),
            ),
            E::UnsupportedMedia => Self::UnsupportedCard,
            E::ImageTooLarge => Self::TooLarge,
            E::Unavailable(cause) => Self::Unavailable(cause),
            other @ (E::VerificationFailed | E::InvalidResetToken | E::InvalidUnsubscribeToken | E::Unexpected(_)) => {
                Self::Unexpected(Box::new(other))
            }
        }
    }
}

/// The address-book use cases CardDAV needs, scoped to a signed-in user.
///
/// Every method taking a [`DavUser`] acts on that user's books only: a book or card of another
/// user is [`BackendError::NotFound`]. Methods are `async fn` without a `Send` bound, like the
/// domain's ports: they run on actix-web's single-threaded worker runtimes.
#[allow(async_fn_in_trait)]
pub trait DavBackend: 'static {
    /// Checks HTTP Basic credentials: the username or the email, and an app password (never the
    /// account password). Failures count towards the login throttle of `origin`; app password
    /// use updates its `last_used_at`.
    async fn authenticate_basic(
        &self,
        login: &str,
        password: &str,
        origin: &ClientOrigin,
    ) -> Result<DavUser, BackendError>;

    /// Checks a REST access token, exactly as the REST API does. A refused token counts towards
    /// the login throttle of `origin` as a failed sign-in that names no login.
    async fn authenticate_bearer(&self, token: &str, origin: &ClientOrigin) -> Result<DavUser, BackendError>;

    /// Counts an `Authorization` header with nothing to check in it (not Base64, no colon, an
    /// empty login or password, an unknown scheme) as a failed sign-in from `origin`, and
    /// answers the refusal to send: [`BackendError::Unauthenticated`], or
    /// [`BackendError::Throttled`] once the address is locked out.
    async fn refuse_unreadable(&self, origin: &ClientOrigin) -> BackendError;

    /// The user's address books, in a stable order (the default one first is nice).
    async fn list_books(&self, user: &DavUser) -> Result<Vec<BookInfo>, BackendError>;

    /// One address book by name ([`BackendError::NotFound`] when absent).
    async fn book(&self, user: &DavUser, book: &str) -> Result<BookInfo, BackendError>;

    /// Creates an address book (extended `MKCOL`) with the properties its client keeps on it
    /// (`kept`, within their bounds), all or none; [`BackendError::AlreadyExists`] when the name
    /// is taken (a unique constraint, not a check first).
    async fn create_book(
        &self,
        user: &DavUser,
        book: &str,
        labels: BookLabels<'_>,
        kept: &[PropertyChange],
    ) -> Result<(), BackendError>;

    /// Deletes an address book and its cards; the default book is [`BackendError::Forbidden`].
    async fn delete_book(&self, user: &DavUser, book: &str) -> Result<(), BackendError>;

    /// Every property the user's clients keep on the user's books and home (dead properties,
    /// each with its book's name, `None` for the home): a handful, read in one go.
    async fn client_properties(&self, user: &DavUser) -> Result<Vec<HeldProperty>, BackendError>;

    /// The properties kept on the cards of `book` named `names` (at most a page of them), each
    /// with its card's name.
    async fn card_properties(
        &self,
        user: &DavUser,
        book: &str,
        names: &[String],
    ) -> Result<Vec<(String, ClientProperty)>, BackendError>;

    /// Applies `PROPPATCH`'s changes of kept properties to `holder` and sets a book's `labels`
    /// (empty: removed; each within [`BookLabel::max_chars`], else [`BackendError::Forbidden`]),
    /// all or none; `Ok(false)` when it would then keep more than
    /// [`MAX_CLIENT_PROPERTIES`](contacts_domain::addressbook::MAX_CLIENT_PROPERTIES) or
    /// [`MAX_HELD_PROPERTY_BYTES`](contacts_domain::addressbook::MAX_HELD_PROPERTY_BYTES), and
    /// nothing changed. [`BackendError::NotFound`] without the book or card.
    async fn change_client_properties(
        &self,
        user: &DavUser,
        holder: PropertyHolder<'_>,
        labels: BookLabels<'_>,
        changes: &[PropertyChange],
    ) -> Result<bool, BackendError>;

    /// One page of a book's cards, ordered by name (byte order), starting strictly after
    /// `after` (keyset paging), at most `limit` entries. The protocol layer streams big
    /// listings page by page, so memory does not grow with the book.
    async fn list_cards(
        &self,
        user: &DavUser,
        book: &str,
        after: Option<&str>,
        limit: usize,
        text: TextWanted,
    ) -> Result<Vec<CardEntry>, BackendError>;

    /// The cards of a book with these names (multiget); names that do not exist are simply
    /// left out. Called with at most a page of names at a time.
    async fn get_cards(
        &self,
        user: &DavUser,
        book: &str,
        names: &[String],
        text: TextWanted,
    ) -> Result<Vec<CardEntry>, BackendError>;

    /// One card (`GET`/`HEAD`), as stored or converted to `version`.
    async fn get_card(
        &self,
        user: &DavUser,
        book: &str,
        card: &str,
        version: Option<VcardVersion>,
    ) -> Result<Card, BackendError>;

    /// Creates or replaces a card with the body sent (`PUT`), after checking `precondition`
    /// atomically with the write. The body is kept byte for byte when it can be (the server may
    /// only add or update `REV` and `PRODID`). Errors: [`BackendError::PreconditionFailed`],
    /// [`BackendError::UidConflict`], [`BackendError::InvalidCard`],
    /// [`BackendError::UnsupportedCard`], [`BackendError::TooLarge`], and
    /// [`BackendError::NotFound`] when the book does not exist.
    async fn put_card(
        &self,
        user: &DavUser,
        book: &str,
        card: &str,
        body: &[u8],
        precondition: &WritePrecondition,
    ) -> Result<PutOutcome, BackendError>;

    /// Copies a card (`COPY`): its text as stored is put under `to` (book, card name) as
    /// [`Self::put_card`] would put it (same precondition, same errors; `NotFound` also without
    /// the source), and the copy gets the source's kept properties in place of whatever a card
    /// it overwrote kept (RFC 4918 9.8.2), in one transaction.
    async fn copy_card(
        &self,
        user: &DavUser,
        from: (&str, &str),
        to: (&str, &str),
        precondition: &WritePrecondition,
    ) -> Result<PutOutcome, BackendError>;

    /// Moves a card (`MOVE`): `from` and `to` are (book, card name) of the caller's; the card
    /// keeps its text and UID, `precondition` is checked on it atomically with the move.
    /// `Ok(true)` when `to` was free, `Ok(false)` when `overwrite` let it replace a card of the
    /// same UID; a card at `to` without `overwrite` is `PreconditionFailed`, one of another UID
    /// (or the UID on another card of the destination book) `UidConflict`.
    async fn move_card(
        &self,
        user: &DavUser,
        from: (&str, &str),
        to: (&str, &str),
        overwrite: bool,
        precondition: &WritePrecondition,
    ) -> Result<bool, BackendError>;

    /// Deletes a card (leaving a tombstone in the change log), after checking `precondition`
    /// atomically with the delete.
    async fn delete_card(
        &self,
        user: &DavUser,
        book: &str,
        card: &str,
        precondition: &WritePrecondition,
    ) -> Result<(), BackendError>;

    /// What changed in a book since `token` (a value of [`BookInfo::sync_token`] given out
    /// earlier), at most `limit` cards when the client set a limit. A token of another
    /// incarnation of the book is [`BackendError::InvalidSyncToken`], checked against the same
    /// read of the book as the changes. `None` reads the log from the book's start (an initial
    /// sync the client limited): every card, and no deletion, since the client has none.
    ///
    /// `until` (a first read's [`ChangeSet::until`]) stops the read there, and a read that
    /// reaches it gives a token at it: the later pages of one answer then list a card changed
    /// while they are written once, in the next sync, never twice in this one (RFC 6578 lists
    /// each member once).
    async fn changes_since(
        &self,
        user: &DavUser,
        book: &str,
        token: Option<SyncToken>,
        until: Option<u64>,
        limit: Option<usize>,
    ) -> Result<ChangeSet, BackendError>;

    /// Runs CPU-bound work of the protocol itself (compressing a long answer for a client that
    /// takes gzip) off the async executor, under the bound the backend keeps for its own card
    /// work: a burst of first syncs then queues instead of stalling every request on a worker.
    async fn offload<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, BackendError>;

    /// [`DavBackend::offload`] only if a place under that bound is free now: `Ok(None)`, and
    /// `work` not run, when every place is taken. For work that only saves bytes (compressing
    /// an answer that is whole already and can go as it is), which must not queue a request
    /// behind imports.
    async fn offload_if_free<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, BackendError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Option<EtagMatch> {
        Some(EtagMatch::Tags(list.iter().map(|t| (*t).to_owned()).collect()))
    }

    #[test]
    fn if_unmodified_since_is_judged_to_the_second_and_only_without_if_match() {
        use std::time::Duration;
        let at = |secs: u64, nanos: u32| SystemTime::UNIX_EPOCH + Duration::new(secs, nanos);
        let since = WritePrecondition { if_unmodified_since: Some(at(100, 0)), ..Default::default() };
        assert!(since.allows_card(Some(("a", at(100, 999_999_999)))), "the same second");
        assert!(since.allows_card(Some(("a", at(99, 0)))));
        assert!(!since.allows_card(Some(("a", at(101, 0)))), "changed after");
        assert!(since.allows_card(None), "no card, no date to judge");
        let with_match = WritePrecondition { if_match: tags(&["a"]), ..since.clone() };
        assert!(with_match.allows_card(Some(("a", at(101, 0)))), "If-Match decides alone");
        assert!(!with_match.allows_card(Some(("b", at(99, 0)))));
    }

    #[test]
    fn preconditions_follow_rfc_9110() {
        let none = WritePrecondition::default();
        assert!(none.allows(None) && none.allows(Some("a")));

        let create_only = WritePrecondition { if_none_match: Some(EtagMatch::Any), ..Default::default() };
        assert!(create_only.allows(None));
        assert!(!create_only.allows(Some("a")));

        let update = WritePrecondition { if_match: tags(&["a", "b"]), ..Default::default() };
        assert!(update.allows(Some("b")));
        assert!(!update.allows(Some("c")));
        assert!(!update.allows(None));

        let any = WritePrecondition { if_match: Some(EtagMatch::Any), ..Default::default() };
        assert!(any.allows(Some("z")) && !any.allows(None));

        let not_this = WritePrecondition { if_none_match: tags(&["a"]), ..Default::default() };
        assert!(not_this.allows(None) && not_this.allows(Some("b")) && !not_this.allows(Some("a")));
    }
}
