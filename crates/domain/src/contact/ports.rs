//! The storage port for contacts.

use super::birthdays::MonthDay;
use super::models::{
    BookStamp, CardRecord, Contact, ContactFilter, ContactId, ContactPatch, ImportOutcome, Listed, NewContact, Page,
    StoredCard,
};
use crate::error::Error;
use crate::user::UserId;

/// What [`ContactRepository::birthdays_up_to`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum BirthdayProbe {
    /// The book's stamp is still the one the caller gave: nothing else was read.
    Unchanged,
    /// Every contact with a birthday on the days asked (no more than asked for), in id order.
    All {
        /// The contacts.
        contacts: Vec<Contact>,
        /// The owner's book stamp in the same snapshot (`None` for an owner who never had a
        /// contact).
        stamp: Option<BookStamp>,
    },
    /// More than asked for: how many fall on each day (days without any may be left out). No
    /// contact was read.
    Counted {
        /// Each day with its count.
        counts: Vec<(MonthDay, i64)>,
        /// The owner's book stamp in the same snapshot, as in `All`.
        stamp: Option<BookStamp>,
    },
}

/// Where contacts are kept. Every method is scoped to an owner: another user's contact is
/// indistinguishable from a missing one. A second contact with the same email (compared
/// case-insensitively) for the same owner is refused by the store itself and reported as
/// [`Error::Conflict`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait ContactRepository: Send + Sync + 'static {
    /// Stores a new contact and returns it as stored.
    async fn create(&self, owner: UserId, contact: NewContact) -> Result<Contact, Error>;

    /// One page of the owner's contacts matching `filter`, ordered by id, and the number of
    /// matches before paging.
    async fn list(&self, owner: UserId, filter: &ContactFilter, page: Page) -> Result<(Vec<Contact>, i64), Error>;

    /// One page of the owner's whole book, as [`list`](Self::list) with no filter, unless the
    /// book's stamp is still `seen` (then [`Listed::Unchanged`], and no contact is read). The
    /// stamp is read during the call, so the answer is never older than the request; a page
    /// read carries the stamp of the same snapshot as its rows.
    async fn book_page(&self, owner: UserId, page: Page, seen: Option<BookStamp>) -> Result<Listed, Error>;

    /// The contact, if it exists and belongs to `owner`.
    async fn get(&self, owner: UserId, id: ContactId) -> Result<Option<Contact>, Error>;

    /// Replaces every field of the contact; `None` if it is not the owner's.
    async fn replace(&self, owner: UserId, id: ContactId, contact: NewContact) -> Result<Option<Contact>, Error>;

    /// Changes the fields the patch sets; `None` if the contact is not the owner's.
    async fn update(&self, owner: UserId, id: ContactId, patch: ContactPatch) -> Result<Option<Contact>, Error>;

    /// Deletes the contact; `false` if it is not the owner's.
    async fn delete(&self, owner: UserId, id: ContactId) -> Result<bool, Error>;

    /// The owner's contacts whose birthday falls on one of `days` (month and day), in id order:
    /// those after `after`, at most `limit` (keyset pages of one long day).
    async fn with_birthday_on(
        &self,
        owner: UserId,
        days: &[MonthDay],
        after: Option<ContactId>,
        limit: Option<i64>,
    ) -> Result<Vec<Contact>, Error>;

    /// The first read of a birthday list, one read either way: the owner's contacts whose
    /// birthday falls on one of `days` if there are at most `most` of them, else only how many
    /// fall on each day, so a list too long to hold is planned without reading any of it; both
    /// with the book's stamp. With `seen`, the stamp of a kept copy of the list, the stamp is
    /// read first, and while it is still `seen` the answer is [`BirthdayProbe::Unchanged`].
    async fn birthdays_up_to(
        &self,
        owner: UserId,
        days: &[MonthDay],
        most: i64,
        seen: Option<BookStamp>,
    ) -> Result<BirthdayProbe, Error>;

    /// Stores imported cards, in one batch: a card whose `UID` is already in one of the owner's
    /// address books replaces that contact where it is (the default book's first), any other is
    /// created in the default book. Each card is
    /// stored whole or not at all; the outcomes are in the order of `cards`, whose `UID` values are
    /// distinct.
    async fn import(&self, owner: UserId, cards: &[CardRecord]) -> Result<Vec<ImportOutcome>, Error>;

    /// Up to `limit` of the owner's contacts with their cards, in id order, after `after`:
    /// keyset pages, so an export holds one page in memory however large the book is.
    async fn cards_after(&self, owner: UserId, after: Option<ContactId>, limit: i64) -> Result<Vec<StoredCard>, Error>;

    /// One contact with its card.
    async fn card(&self, owner: UserId, id: ContactId) -> Result<Option<StoredCard>, Error>;
}
