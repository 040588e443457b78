//! Contacts: the entries of a user's book, their validation, search and birthday rules.

mod birthday_list;
mod birthdays;
#[cfg(any(test, feature = "mocks"))]
pub mod fixtures;
mod models;
mod ports;
mod service;
mod use_cases;
pub mod vcard;

pub use birthday_list::{BIRTHDAY_CHUNK, BirthdayList};
pub use birthdays::{MonthDay, birthday_window, next_birthday};
pub use models::{
    AdditionalInfo, Birthday, BirthdayStamp, Birthdays, BookStamp, CardRecord, Contact, ContactFilter, ContactId,
    ContactInput, ContactPatch, ContactPatchInput, ImportOutcome, Listed, NewContact, Page, PersonName, Phone,
    StoredCard, TypedValue, TypedValueInput, list_path,
};
#[cfg(any(test, feature = "mocks"))]
pub use ports::MockContactRepository;
pub use ports::{BirthdayProbe, ContactRepository};
pub use service::{ContactService, ImportFailure, ImportReport, ListQuery, UnreadCard, read_import};
pub use use_cases::ContactUseCases;
#[cfg(any(test, feature = "mocks"))]
pub use use_cases::MockContactUseCases;
