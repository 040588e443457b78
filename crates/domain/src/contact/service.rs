//! [`ContactService`]: the use cases of a user's contacts book.

use super::birthdays::{birthday_window, next_birthday};
use super::models::{
    Contact, ContactFilter, ContactId, ContactInput, ContactPatch, ContactPatchInput, NewContact, Page,
};
use super::ports::ContactRepository;
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

    /// One page of the owner's matching contacts, ordered by id, with the total match count.
    pub async fn list(&self, owner: UserId, query: ListQuery) -> Result<(Vec<Contact>, i64), Error> {
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
        self.contacts.list(owner, &filter, Page { skip: query.skip, limit: query.limit }).await
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
    /// UTC), soonest first; ties by id.
    pub async fn upcoming_birthdays(&self, owner: UserId, days: i64) -> Result<Vec<Contact>, Error> {
        let days = u32::try_from(days)
            .ok()
            .filter(|d| *d <= 365)
            .ok_or_else(|| Error::invalid(FieldError::new("days", Rule::Range { min: 0, max: Some(365) })))?;
        let today = self.clock.today();
        let mut contacts = self.contacts.with_birthday_on(owner, &birthday_window(today, days)).await?;
        contacts.sort_by_key(|c| (next_birthday(c.birthday, today), c.id));
        Ok(contacts)
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests;
