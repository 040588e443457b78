//! [`ContactUseCases`]: what inbound adapters may ask of a user's contacts book.

use async_trait::async_trait;

use super::birthday_list::BirthdayList;
use super::models::{
    BirthdayStamp, Birthdays, BookStamp, CardRecord, Contact, ContactId, ContactInput, ContactPatchInput, Listed,
    StoredCard,
};
use super::ports::ContactRepository;
use super::service::{ContactService, ImportReport, ListQuery, UnreadCard};
use crate::clock::Clock;
use crate::error::Error;
use crate::user::UserId;

/// The contacts use cases as an object-safe trait (see
/// [`AuthUseCases`](crate::auth::AuthUseCases) for why). [`ContactService`] implements it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait(?Send)]
pub trait ContactUseCases: Send + Sync {
    /// See [`ContactService::create`].
    async fn create(&self, owner: UserId, input: ContactInput) -> Result<Contact, Error>;
    /// See [`ContactService::list_since`].
    async fn list_since(&self, owner: UserId, query: ListQuery, seen: Option<BookStamp>) -> Result<Listed, Error>;
    /// See [`ContactService::get`].
    async fn get(&self, owner: UserId, id: ContactId) -> Result<Contact, Error>;
    /// See [`ContactService::replace`].
    async fn replace(&self, owner: UserId, id: ContactId, input: ContactInput) -> Result<Contact, Error>;
    /// See [`ContactService::update`].
    async fn update(&self, owner: UserId, id: ContactId, input: ContactPatchInput) -> Result<Contact, Error>;
    /// See [`ContactService::delete`].
    async fn delete(&self, owner: UserId, id: ContactId) -> Result<(), Error>;
    /// See [`ContactService::upcoming_birthdays`].
    async fn upcoming_birthdays(
        &self,
        owner: UserId,
        days: i64,
        seen: Option<BirthdayStamp>,
    ) -> Result<Birthdays, Error>;
    /// See [`ContactService::more_birthdays`].
    async fn more_birthdays(&self, owner: UserId, list: &mut BirthdayList) -> Result<Option<Vec<Contact>>, Error>;
    /// See [`ContactService::card`].
    async fn card(&self, owner: UserId, id: ContactId) -> Result<StoredCard, Error>;
    /// See [`ContactService::export_page`].
    async fn export_page(&self, owner: UserId, after: Option<ContactId>, limit: i64) -> Result<Vec<StoredCard>, Error>;
    /// See [`ContactService::import`].
    async fn import(
        &self,
        owner: UserId,
        read: Vec<(usize, Result<CardRecord, UnreadCard>)>,
    ) -> Result<ImportReport, Error>;
}

#[async_trait(?Send)]
impl<R: ContactRepository, C: Clock> ContactUseCases for ContactService<R, C> {
    async fn create(&self, owner: UserId, input: ContactInput) -> Result<Contact, Error> {
        ContactService::create(self, owner, input).await
    }

    async fn list_since(&self, owner: UserId, query: ListQuery, seen: Option<BookStamp>) -> Result<Listed, Error> {
        ContactService::list_since(self, owner, query, seen).await
    }

    async fn get(&self, owner: UserId, id: ContactId) -> Result<Contact, Error> {
        ContactService::get(self, owner, id).await
    }

    async fn replace(&self, owner: UserId, id: ContactId, input: ContactInput) -> Result<Contact, Error> {
        ContactService::replace(self, owner, id, input).await
    }

    async fn update(&self, owner: UserId, id: ContactId, input: ContactPatchInput) -> Result<Contact, Error> {
        ContactService::update(self, owner, id, input).await
    }

    async fn delete(&self, owner: UserId, id: ContactId) -> Result<(), Error> {
        ContactService::delete(self, owner, id).await
    }

    async fn upcoming_birthdays(
        &self,
        owner: UserId,
        days: i64,
        seen: Option<BirthdayStamp>,
    ) -> Result<Birthdays, Error> {
        ContactService::upcoming_birthdays(self, owner, days, seen).await
    }

    async fn more_birthdays(&self, owner: UserId, list: &mut BirthdayList) -> Result<Option<Vec<Contact>>, Error> {
        ContactService::more_birthdays(self, owner, list).await
    }

    async fn card(&self, owner: UserId, id: ContactId) -> Result<StoredCard, Error> {
        ContactService::card(self, owner, id).await
    }

    async fn export_page(&self, owner: UserId, after: Option<ContactId>, limit: i64) -> Result<Vec<StoredCard>, Error> {
        ContactService::export_page(self, owner, after, limit).await
    }

    async fn import(
        &self,
        owner: UserId,
        read: Vec<(usize, Result<CardRecord, UnreadCard>)>,
    ) -> Result<ImportReport, Error> {
        ContactService::import(self, owner, read).await
    }
}
