//! [`ContactService`]: the use cases of a user's contacts book.

use std::collections::HashMap;

use super::birthday_list::{BIRTHDAY_CHUNK, BirthdayChunk, BirthdayList, soonest_first};
use super::birthdays::{MonthDay, celebration_days};
use super::models::{
    BirthdayStamp, Birthdays, BookStamp, CardRecord, Contact, ContactFilter, ContactId, ContactInput, ContactPatch,
    ContactPatchInput, ImportOutcome, Listed, NewContact, Page, StoredCard,
};
use super::ports::{BirthdayProbe, ContactRepository};
use super::vcard::{self, CardError};
use crate::clock::Clock;
use crate::error::{Error, FieldError, Rule};
use crate::user::UserId;

const NOT_FOUND: Error = Error::NotFound("Contact not found");

/// Paging and filters of a list request, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// Matches to skip; at least 0.
    pub skip: i64,
    /// Matches to return; 1–1000.
    pub limit: i64,
    /// Search filters.
    pub filter: ContactFilter,
}

impl Default for ListQuery {
    fn default() -> Self {
        Self { skip: 0, limit: 100, filter: ContactFilter::default() }
    }
}

/// The storage said "unchanged" to a birthday list asked for without a kept copy's stamp: a
/// broken promise of the port.
#[derive(Debug, thiserror::Error)]
#[error("a birthday list asked for without a kept copy came back unchanged")]
struct UnaskedUnchanged;

/// Create, read, search, update and delete a user's contacts, and find upcoming birthdays.
/// Every call is scoped to the owner; other users' contacts do not exist for it.
#[derive(Debug, Clone)]
pub struct ContactService<R, C> {
    contacts: R,
    clock: C,
}

impl<R: ContactRepository, C: Clock> ContactService<R, C> {
    /// Assembles the service from its ports.
    pub fn new(contacts: R, clock: C) -> Self {
        Self { contacts, clock }
    }

    /// Validates and stores a new contact.
    pub async fn create(&self, owner: UserId, input: ContactInput) -> Result<Contact, Error> {
        let contact = NewContact::parse(input, self.clock.today())?;
        self.contacts.create(owner, contact).await
    }

    /// One page of the owner's matching contacts, ordered by id, with the total match count; for
    /// a caller that keeps copies of pages, with `seen`, the stamp of its copy of this page, the
    /// answer is [`Listed::Unchanged`] while the book is, and no contact is read. Only pages of
    /// the whole book carry a stamp; a search is always read.
    pub async fn list_since(&self, owner: UserId, query: ListQuery, seen: Option<BookStamp>) -> Result<Listed, Error> {
        let (filter, page) = checked(query)?;
        if filter == ContactFilter::default() {
            return self.contacts.book_page(owner, page, seen).await;
        }
        let (contacts, total) = self.contacts.list(owner, &filter, page).await?;
        Ok(Listed::Read { contacts, total, stamp: None })
    }

    /// The owner's contact with this id.
    pub async fn get(&self, owner: UserId, id: ContactId) -> Result<Contact, Error> {
        self.contacts.get(owner, id).await?.ok_or(NOT_FOUND)
    }

    /// Replaces every field; an omitted `additional_info` becomes empty.
    pub async fn replace(&self, owner: UserId, id: ContactId, input: ContactInput) -> Result<Contact, Error> {
        let contact = NewContact::parse(input, self.clock.today())?;
        self.contacts.replace(owner, id, contact).await?.ok_or(NOT_FOUND)
    }

    /// Changes only the fields sent.
    pub async fn update(&self, owner: UserId, id: ContactId, input: ContactPatchInput) -> Result<Contact, Error> {
        let patch = ContactPatch::parse(input, self.clock.today())?;
        self.contacts.update(owner, id, patch).await?.ok_or(NOT_FOUND)
    }

    /// Deletes the owner's contact.
    pub async fn delete(&self, owner: UserId, id: ContactId) -> Result<(), Error> {
        if self.contacts.delete(owner, id).await? { Ok(()) } else { Err(NOT_FOUND) }
    }

    /// Contacts whose next birthday falls between today and `days` days later (inclusive,
    /// UTC), soonest first; ties by id. For a caller that keeps copies of lists, with `seen`, the
    /// stamp of its copy of this list: the answer is [`Birthdays::Unchanged`] while the day and
    /// the book are the ones it was read at, and no contact is read.
    ///
    /// A list of at most [`BIRTHDAY_CHUNK`] contacts comes whole, from one read. A longer one is
    /// only counted by day in that read; it comes as its first chunk and the [`BirthdayList`] of
    /// the rest, which [`more_birthdays`](Self::more_birthdays) reads chunk by chunk, so memory
    /// does not grow with the book; the chunks are read one after another, not from one
    /// snapshot (as an export's pages are). The stamp is the one of the first read, so a change
    /// while the rest is read makes the next request read the list again.
    pub async fn upcoming_birthdays(
        &self,
        owner: UserId,
        days: i64,
        seen: Option<BirthdayStamp>,
    ) -> Result<Birthdays, Error> {
        let days = u32::try_from(days)
            .ok()
            .filter(|d| *d <= 365)
            .ok_or_else(|| Error::invalid(FieldError::new("days", Rule::Range { min: 0, max: Some(365) })))?;
        let today = self.clock.today();
        let celebrated = celebration_days(today, days);
        let mut window: Vec<MonthDay> = celebrated.iter().flatten().copied().collect();
        window.sort();
        // A copy of another day's list is of another window: it is not asked about.
        let seen = seen.filter(|seen| seen.today == today).map(|seen| seen.book);
        let stamped = |book: Option<BookStamp>| book.map(|book| BirthdayStamp { book, today });
        let (counts, stamp) = match self.contacts.birthdays_up_to(owner, &window, BIRTHDAY_CHUNK as i64, seen).await? {
            BirthdayProbe::Unchanged if seen.is_some() => return Ok(Birthdays::Unchanged),
            BirthdayProbe::Unchanged => return Err(Error::unexpected(UnaskedUnchanged)),
            BirthdayProbe::All { mut contacts, stamp } => {
                soonest_first(&mut contacts, today);
                return Ok(Birthdays::Read { first: contacts, rest: None, stamp: stamped(stamp) });
            }
            BirthdayProbe::Counted { counts, stamp } => (counts.into_iter().collect::<HashMap<MonthDay, i64>>(), stamp),
        };
        let mut rest = BirthdayList::plan(today, celebrated, &counts);
        let first = self.more_birthdays(owner, &mut rest).await?.unwrap_or_default();
        Ok(Birthdays::Read { first, rest: Some(rest), stamp: stamped(stamp) })
    }

    /// The next chunk of a long birthday list, soonest first; `None` once it is all read.
    pub async fn more_birthdays(&self, owner: UserId, list: &mut BirthdayList) -> Result<Option<Vec<Contact>>, Error> {
        while let Some(chunk) = list.chunks.front_mut() {
            let mut contacts = match chunk {
                BirthdayChunk::Days(days) => {
                    let all: Vec<MonthDay> = days.iter().flatten().copied().collect();
                    let most = Some(BIRTHDAY_CHUNK as i64 + 1);
                    let contacts = self.contacts.with_birthday_on(owner, &all, None, most).await?;
                    let days = std::mem::take(days);
                    list.chunks.pop_front();
                    if contacts.len() > BIRTHDAY_CHUNK {
                        // More than counted a moment ago (an import since, say): each day is
                        // read on its own instead, in id pages, so no read holds more than a
                        // chunk and the order holds.
                        for day in days.into_iter().rev() {
                            list.chunks.push_front(BirthdayChunk::LongDay { day, after: None });
                        }
                        continue;
                    }
                    contacts
                }
                BirthdayChunk::LongDay { day, after } => {
                    let limit = Some(BIRTHDAY_CHUNK as i64);
                    let contacts = self.contacts.with_birthday_on(owner, day, *after, limit).await?;
                    match contacts.last() {
                        Some(last) if contacts.len() == BIRTHDAY_CHUNK => *after = Some(last.id),
                        _ => {
                            list.chunks.pop_front();
                        }
                    }
                    contacts
                }
            };
            // Counts a moment old may name a day whose birthdays have gone since.
            if !contacts.is_empty() {
                soonest_first(&mut contacts, list.today);
                return Ok(Some(contacts));
            }
        }
        Ok(None)
    }

    /// One contact with its card.
    pub async fn card(&self, owner: UserId, id: ContactId) -> Result<StoredCard, Error> {
        self.contacts.card(owner, id).await?.ok_or(NOT_FOUND)
    }

    /// One page of the owner's cards for an export, after `after` in id order.
    pub async fn export_page(
        &self,
        owner: UserId,
        after: Option<ContactId>,
        limit: i64,
    ) -> Result<Vec<StoredCard>, Error> {
        self.contacts.cards_after(owner, after, limit).await
    }

    /// Stores the readable cards of an import (see [`read_import`]) in batches of
    /// `IMPORT_BATCH`, and reports per card. A batch the store refuses is retried card by
    /// card, so one bad card fails alone. An unreachable store ([`Error::Unavailable`]) stops
    /// the import with that error instead: every later card would fail alike, each only after
    /// waiting for a connection, and the caller is told to retry rather than handed a report of
    /// failed cards. Batches stored before it stay stored.
    pub async fn import(
        &self,
        owner: UserId,
        read: Vec<(usize, Result<CardRecord, UnreadCard>)>,
    ) -> Result<ImportReport, Error> {
        let mut report = ImportReport::default();
        let mut batch: Vec<(usize, CardRecord)> = Vec::with_capacity(IMPORT_BATCH);
        let mut uids = std::collections::HashSet::new();
        for (index, card) in read {
            match card {
                Err(UnreadCard { uid, error }) => {
                    report.failed.push(ImportFailure { index, uid, detail: error.to_string() });
                }
                Ok(card) => {
                    // A UID twice in one statement cannot be upserted: the repeat goes to the next batch.
                    if batch.len() == IMPORT_BATCH || uids.contains(&card.uid) {
                        self.store(owner, std::mem::take(&mut batch), &mut report).await?;
                        uids.clear();
                    }
                    uids.insert(card.uid.clone());
                    batch.push((index, card));
                }
            }
        }
        self.store(owner, batch, &mut report).await?;
        report.failed.sort_by_key(|f| f.index);
        Ok(report)
    }

    /// Stores one batch into `report`; only [`Error::Unavailable`] comes back as an error (see
    /// [`Self::import`]), any other failure is reported per card.
    async fn store(
        &self,
        owner: UserId,
        batch: Vec<(usize, CardRecord)>,
        report: &mut ImportReport,
    ) -> Result<(), Error> {
        if batch.is_empty() {
            return Ok(());
        }
        let cards: Vec<CardRecord> = batch.iter().map(|(_, c)| c.clone()).collect();
        match self.contacts.import(owner, &cards).await {
            Ok(outcomes) => outcomes.into_iter().for_each(|o| report.count(o)),
            Err(e @ Error::Unavailable(_)) => return Err(e),
            Err(_) if batch.len() > 1 => {
                for (index, card) in batch {
                    match self.contacts.import(owner, std::slice::from_ref(&card)).await {
                        Ok(outcomes) => outcomes.into_iter().for_each(|o| report.count(o)),
                        Err(e @ Error::Unavailable(_)) => return Err(e),
                        Err(e) => report.failed.push(ImportFailure { index, uid: Some(card.uid), detail: detail(&e) }),
                    }
                }
            }
            Err(e) => {
                let (index, card) = batch.into_iter().next().expect("one card");
                report.failed.push(ImportFailure { index, uid: Some(card.uid), detail: detail(&e) });
            }
        }
        Ok(())
    }
}

/// How many cards one INSERT stores.
pub const IMPORT_BATCH: usize = 500;

/// Why a card was not stored, for the client (never [`Error::Unavailable`]: that stops the
/// import).
fn detail(e: &Error) -> String {
    match e {
        Error::Conflict(_) => "This card conflicts with another contact of the book".to_owned(),
        _ => "This card could not be stored".to_owned(),
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Contacts created.
    pub created: usize,
    /// Contacts replaced (their `UID` was already in one of the owner's books).
    pub updated: usize,
    /// Cards not stored, by position in the file.
    pub failed: Vec<ImportFailure>,
}

impl ImportReport {
    fn count(&mut self, outcome: ImportOutcome) {
        match outcome {
            ImportOutcome::Created => self.created += 1,
            ImportOutcome::Updated => self.updated += 1,
        }
    }
}

/// A card of an import that could not be read, with the `UID` its text names if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadCard {
    /// What its `UID` line says (see [`vcard::uid_text`]).
    pub uid: Option<String>,
    /// Why it could not be read.
    pub error: CardError,
}

/// One card an import could not store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportFailure {
    /// Its 0-based position in the file.
    pub index: usize,
    /// Its `UID`, when it could be read.
    pub uid: Option<String>,
    /// Why, for the client.
    pub detail: String,
}

/// Splits and reads an import file (CPU work: callers run it off the async workers). `None`
/// when there is no `BEGIN:VCARD` at all; else each card by position, read or why not. A card
/// without `UID` gets a new one, and a `UID` line is added to it.
pub fn read_import(text: &str) -> Option<Vec<(usize, Result<CardRecord, UnreadCard>)>> {
    let cards = vcard::split_cards(text)?;
    // A card the parser cannot cope with fails alone, even if the parser panics on it.
    let read = |card: &str| {
        std::panic::catch_unwind(|| vcard::record(card))
            .unwrap_or_else(|_| Err(CardError::Invalid("the card could not be parsed".to_owned())))
            .map_err(|error| UnreadCard { uid: vcard::uid_text(card), error })
    };
    Some(cards.into_iter().enumerate().map(|(index, card)| (index, read(card))).collect())
}

impl ListQuery {
    /// Whether this asks for a page of the whole book (no filter sent): the only pages an
    /// instance keeps a copy of, since only they can be told unchanged by the book's stamp.
    pub fn is_whole_book(&self) -> bool {
        self.filter == ContactFilter::default()
    }

    /// Every problem with the request, as [`ContactService::list_since`] would answer it: lets
    /// a caller refuse a malformed request before it waits for anything (a turn to read a long
    /// page), so it is told what is wrong, not that the service is busy.
    pub fn check(&self) -> Result<(), Error> {
        checked(self.clone()).map(|_| ())
    }
}

/// The filter and page of a list request, or every problem with it at once.
fn checked(query: ListQuery) -> Result<(ContactFilter, Page), Error> {
    let mut problems = Vec::new();
    if query.skip < 0 {
        problems.push(FieldError::new("skip", Rule::Range { min: 0, max: None }));
    }
    if !(1..=1000).contains(&query.limit) {
        problems.push(FieldError::new("limit", Rule::Range { min: 1, max: Some(1000) }));
    }
    let filters = [
        ("first_name", &query.filter.first_name),
        ("last_name", &query.filter.last_name),
        ("email", &query.filter.email),
        ("q", &query.filter.q),
    ];
    for (name, value) in filters {
        if value.as_deref().is_some_and(|v| v.contains('\0')) {
            problems.push(FieldError::new(name, Rule::NulCharacters));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let filter = ContactFilter {
        first_name: non_empty(query.filter.first_name),
        last_name: non_empty(query.filter.last_name),
        email: non_empty(query.filter.email),
        q: non_empty(query.filter.q),
    };
    Ok((filter, Page { skip: query.skip, limit: query.limit }))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests;
