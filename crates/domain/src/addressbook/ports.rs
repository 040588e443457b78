//! The storage ports of address books and app passwords.

use chrono::{DateTime, Utc};

use crate::contact::{CardRecord, StoredCard};
use crate::error::Error;
use crate::user::UserId;

use super::app_passwords::AppPassword;
use super::properties::{BookLabels, ClientProperty, HeldProperty, PropertiesWrite, PropertyChange, PropertyHolder};

/// The name of the book made with every account, where REST creates contacts.
pub const DEFAULT_BOOK: &str = "contacts";

/// Longest card name (its path segment, decoded) a book keeps, in bytes. Clients name cards by
/// their UID (`{uid}.vcf`), so this matches [`MAX_UID_BYTES`](crate::contact::vcard::MAX_UID_BYTES)
/// with room for the suffix; a longer name is refused before anything is stored, as PostgreSQL
/// would refuse its index entry (about 2.7 KB at most).
pub const MAX_CARD_NAME_BYTES: usize = 1100;

/// How long the tombstone of a deleted card is kept in its book's change log. A client whose
/// last sync is older than that may have missed a deletion: its token answers "invalid" and it
/// starts over with a full sync. 30 days covers a phone left in a drawer over a holiday while
/// keeping the log from growing with every card ever deleted. (The contract names no period.)
pub const TOMBSTONE_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// One address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Book {
    /// Its identity, never reused: a book deleted and made again under the same name has
    /// another, so sync tokens of the old one can be told from the new one's.
    pub id: i64,
    /// Its path segment (unique per user).
    pub name: String,
    /// Its human-readable name (empty: none set).
    pub display_name: String,
    /// What it holds, in its owner's words (empty: none set).
    pub description: String,
    /// The number of its latest change: the sync token and ctag.
    pub sync_seq: i64,
    /// The oldest sync token still answerable: tombstones up to it may have been purged.
    pub sync_floor: i64,
}

/// A card with its name in the book.
#[derive(Debug, Clone)]
pub struct NamedCard {
    /// Its path segment.
    pub href: String,
    /// The row.
    pub card: StoredCard,
}

/// One entry of the change log: the latest change of a card.
#[derive(Debug, Clone)]
pub struct BookChange {
    /// The card's name.
    pub href: String,
    /// The number of the change.
    pub seq: i64,
    /// The card as it is now, `None` when the change deleted it.
    pub card: Option<StoredCard>,
}

/// Which part of a book's change log a read takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRange {
    /// Changes numbered after this.
    pub after: i64,
    /// And not past this: the book's number when a read in pages began, so a card changed
    /// while the pages are read is left for the next sync instead of being listed twice (its
    /// entry moves past the bound). `None`: up to the book's number now.
    pub until: Option<i64>,
    /// At most this many, oldest first.
    pub limit: Option<i64>,
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CardWrite {
    /// A new card was stored (or, for a delete, the card was removed).
    Created,
    /// An existing card was replaced.
    Replaced,
    /// The precondition refused the write; nothing changed.
    Refused,
    /// No such book (or card, for a delete).
    Missing,
    /// The card at that name has another UID, which a write may not change (see
    /// [`CardRecord::replacing`](crate::contact::CardRecord::replacing)); nothing changed.
    UidChanged,
}

/// Predicate over a card's current state (`None`: no card of that name), checked by the store
/// with the row locked, in the transaction of the write.
pub type Precondition<'a> = &'a (dyn Fn(Option<&StoredCard>) -> bool + Sync);

/// Where address books and their cards are kept; every method is scoped to an owner (another
/// user's book is a missing one). The change log is kept by the store itself on every write,
/// whichever door it came through.
pub trait AddressBookStore: Send + Sync + 'static {
    /// The owner's books, the default one first.
    async fn books(&self, owner: UserId) -> Result<Vec<Book>, Error>;
    /// One book by name.
    async fn book(&self, owner: UserId, name: &str) -> Result<Option<Book>, Error>;
    /// Creates a book with its display name and description (empty: none) and the properties
    /// its client sets on it (`kept`, within the bounds: [`after_changes`](super::after_changes) on none passes), all
    /// in one transaction; `false` when the name is taken (the unique constraint decides).
    async fn create_book(
        &self,
        owner: UserId,
        name: &str,
        display_name: &str,
        description: &str,
        kept: &[PropertyChange],
    ) -> Result<bool, Error>;
    /// Deletes a book and its cards; `false` when there is no such book.
    async fn delete_book(&self, owner: UserId, name: &str) -> Result<bool, Error>;
    /// Up to `limit` cards of a book, by name (byte order) strictly after `after`; `None` when
    /// the book does not exist.
    async fn cards(
        &self,
        owner: UserId,
        book: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Option<Vec<NamedCard>>, Error>;
    /// The cards of a book with these names (absent ones left out); `None` without the book.
    async fn cards_named(&self, owner: UserId, book: &str, names: &[String]) -> Result<Option<Vec<NamedCard>>, Error>;
    /// One card; `None` when the book or the card does not exist.
    async fn card(&self, owner: UserId, book: &str, href: &str) -> Result<Option<StoredCard>, Error>;
    /// The name of the book's card whose `UID` is `uid`, if any: what a write that would repeat
    /// it is told, since the conflict itself names no card.
    async fn card_named_by_uid(&self, owner: UserId, book: &str, uid: &str) -> Result<Option<String>, Error>;
    /// Stores `record` (kept as `record.card`, not dirty) under `href` if `allow` accepts the
    /// card's current state. A UID another card of the book has is [`Error::Conflict`]; over a
    /// card of another UID it is [`CardWrite::UidChanged`] (a card sent without one takes the
    /// stored card's, see [`CardRecord::replacing`](crate::contact::CardRecord::replacing)).
    async fn put_card(
        &self,
        owner: UserId,
        book: &str,
        href: &str,
        record: &CardRecord,
        allow: Precondition<'_>,
    ) -> Result<CardWrite, Error>;
    /// A `COPY` of the card named `from` (book, name): stores `record` (its text) under `to`
    /// exactly as [`put_card`](Self::put_card) does, and in the same transaction gives the card
    /// written there the properties `from` keeps, in place of those it kept (RFC 4918 9.8.2).
    async fn copy_card(
        &self,
        owner: UserId,
        from: (&str, &str),
        to: (&str, &str),
        record: &CardRecord,
        allow: Precondition<'_>,
    ) -> Result<CardWrite, Error>;
    /// Moves the card named `from` (book, name) to `to`, if `allow` accepts its state: the same
    /// row, so its REST id, UID and text stay, and the log records the old name's deletion and
    /// the new one's change. A card at `to` is replaced only when `overwrite` and it has the same
    /// UID ([`CardWrite::UidChanged`] otherwise, RFC 6352's `no-uid-conflict`); without
    /// `overwrite` it is [`CardWrite::Refused`]. [`CardWrite::Created`]: `to` was free;
    /// [`CardWrite::Missing`]: no such card or book. A UID another card of the destination book
    /// has is [`Error::Conflict`].
    async fn move_card(
        &self,
        owner: UserId,
        from: (&str, &str),
        to: (&str, &str),
        overwrite: bool,
        allow: Precondition<'_>,
    ) -> Result<CardWrite, Error>;
    /// Deletes a card if `allow` accepts it ([`CardWrite::Created`] stands for "deleted").
    async fn delete_card(
        &self,
        owner: UserId,
        book: &str,
        href: &str,
        allow: Precondition<'_>,
    ) -> Result<CardWrite, Error>;
    /// The book and the changes of its log in `range`, oldest first; `None` without the book.
    async fn changes(
        &self,
        owner: UserId,
        book: &str,
        range: LogRange,
    ) -> Result<Option<(Book, Vec<BookChange>)>, Error>;
    /// Deletes, in every book, the tombstones written before `before`, and raises each such
    /// book's sync floor to the newest tombstone deleted, so a token that could have missed
    /// one of those deletions is refused rather than answered incompletely. Returns how many
    /// tombstones went. Books busy with a write are left for the next run.
    async fn purge_tombstones(&self, before: DateTime<Utc>) -> Result<u64, Error>;
    /// Every property the owner's clients keep on the owner's books and home (not on cards).
    async fn client_properties(&self, owner: UserId) -> Result<Vec<HeldProperty>, Error>;
    /// The properties kept on the cards of `book` named `hrefs`, with each card's name.
    async fn card_properties(
        &self,
        owner: UserId,
        book: &str,
        hrefs: &[String],
    ) -> Result<Vec<(String, ClientProperty)>, Error>;
    /// Applies `changes`, in order, to the properties `holder` keeps, and sets a book's `labels`,
    /// in one transaction, all or none (RFC 4918 wants a `PROPPATCH` atomic):
    /// [`PropertiesWrite::Full`] when it would then keep more than
    /// [`MAX_CLIENT_PROPERTIES`](super::MAX_CLIENT_PROPERTIES) or
    /// [`MAX_HELD_PROPERTY_BYTES`](super::MAX_HELD_PROPERTY_BYTES), judged with the holder's row
    /// locked so two writers cannot both pass a bound. Labels for a holder other than a book
    /// are a caller's bug ([`Error::Unexpected`], nothing changed).
    async fn change_client_properties(
        &self,
        owner: UserId,
        holder: PropertyHolder<'_>,
        labels: BookLabels<'_>,
        changes: &[PropertyChange],
    ) -> Result<PropertiesWrite, Error>;
}

/// Where app passwords are kept, as fingerprints only.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait AppPasswordStore: Send + Sync + 'static {
    /// Stores a new app password, unless the owner's sessions ended since the request was
    /// signed in (`token_version`, the version its access token carries, is no longer the
    /// user's): then `None`, and nothing is stored. A password reset running at the same time
    /// therefore never leaves a password made by one of the sessions it ends.
    async fn insert(
        &self,
        owner: UserId,
        token_version: i64,
        name: &str,
        fingerprint: &str,
    ) -> Result<Option<AppPassword>, Error>;
    /// The owner's app passwords, oldest first.
    async fn list(&self, owner: UserId) -> Result<Vec<AppPassword>, Error>;
    /// Deletes one of the owner's app passwords; `false` when the owner has none with this id.
    async fn delete(&self, owner: UserId, id: i64) -> Result<bool, Error>;
    /// The user whose username or email is `login` (case-insensitive) and who has an app
    /// password with this fingerprint: `(id, username)`. The password is marked used at `now`
    /// unless its recorded use is less than [`super::USE_RECORDED_EVERY`] older (or newer: a
    /// recorded use never moves back).
    async fn verify(
        &self,
        login: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(UserId, String)>, Error>;
}
