//! Address books as CardDAV sees them, and the app passwords CardDAV clients sign in with.
//!
//! Storage sits behind two ports ([`AddressBookStore`], [`AppPasswordStore`]); the rules that
//! are not storage (what an app password looks like, which text and ETag a stored card has)
//! live here, so every inbound adapter applies them the same way.

mod app_passwords;
mod cards;
mod ports;
mod properties;

pub use app_passwords::{AppPassword, AppPasswordService, CreatedAppPassword, MAX_NAME_CHARS, USE_RECORDED_EVERY};
pub use cards::{card_etag, card_text};
#[cfg(any(test, feature = "mocks"))]
pub use ports::MockAppPasswordStore;
pub use ports::{
    AddressBookStore, AppPasswordStore, Book, BookChange, CardWrite, DEFAULT_BOOK, LogRange, MAX_CARD_NAME_BYTES,
    NamedCard, Precondition, TOMBSTONE_RETENTION,
};
pub use properties::{
    BookLabels, ClientProperty, HeldProperty, MAX_CLIENT_PROPERTIES, MAX_CLIENT_PROPERTY_BYTES,
    MAX_CLIENT_PROPERTY_NAME_BYTES, MAX_HELD_PROPERTY_BYTES, PropertiesWrite, PropertyChange, PropertyHolder,
    after_changes,
};
