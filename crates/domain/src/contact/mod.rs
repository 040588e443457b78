//! Contacts: the entries of a user's book, their validation, search and birthday rules.

mod birthdays;
mod models;
mod ports;
mod service;
pub mod vcard;

pub use birthdays::{MonthDay, birthday_window, next_birthday};
pub use models::{
    AdditionalInfo, Birthday, CardRecord, Contact, ContactFilter, ContactId, ContactInput, ContactPatch,
    ContactPatchInput, ImportOutcome, NewContact, Page, PersonName, Phone, StoredCard, TypedValue, TypedValueInput,
    list_field,
};
pub use ports::ContactRepository;
#[cfg(any(test, feature = "mocks"))]
pub use ports::MockContactRepository;
pub use service::{ContactService, ImportFailure, ImportReport, ListQuery, read_import};
