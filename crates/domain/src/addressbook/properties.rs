//! Properties a sync client keeps on its address books, on the home that holds them and on
//! cards (WebDAV's "dead" properties, RFC 4918 4.1): macOS Contacts keeps which card is "me" on
//! the home, other clients colours or orders. The service stores them and gives them back; it never reads
//! them, so their values are opaque text here.

/// Most properties one holder (the home, a book, a card) keeps: clients set a handful, and the bound keeps a
/// client from filling the database through them.
pub const MAX_CLIENT_PROPERTIES: i64 = 100;

/// Largest value of one property, in bytes (a colour or an href is tens of bytes).
pub const MAX_CLIENT_PROPERTY_BYTES: usize = 16 * 1024;

/// Most bytes of values one holder keeps in all: a listing page of 500 cards then carries at
/// most 32 MiB of them, not what 100 properties of 16 KiB on each card would make.
pub const MAX_HELD_PROPERTY_BYTES: i64 = 64 * 1024;

/// One property as a client set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientProperty {
    /// The namespace of its name (a URI, empty for none).
    pub namespace: String,
    /// Its local name.
    pub name: String,
    /// Its value, as the inbound adapter wrote it (whole, opaque to the domain).
    pub value: String,
}

/// A property with the book it is kept on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldProperty {
    /// The book's name; `None`: the address-book home.
    pub book: Option<String>,
    /// The property.
    pub property: ClientProperty,
}

/// What keeps a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyHolder<'a> {
    /// The address-book home.
    Home,
    /// The book of this name.
    Book(&'a str),
    /// The card of this name (`href`) in the book of this name: its contact, so the properties
    /// follow the card when it moves and go with it.
    Card {
        /// The book's name.
        book: &'a str,
        /// The card's name.
        href: &'a str,
    },
}

/// One change a client asks for: set (`Some`) or remove (`None`) a property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropertyChange {
    /// The namespace of its name.
    pub namespace: String,
    /// Its local name.
    pub name: String,
    /// The new value; `None` removes the property (removing one that is not there is fine).
    pub value: Option<String>,
}

/// What a change of properties did. Every change of one call is applied, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertiesWrite {
    /// Every change was applied.
    Done,
    /// No such book or card; nothing changed.
    Missing,
    /// The holder would keep more than [`MAX_CLIENT_PROPERTIES`], or values of more than
    /// [`MAX_HELD_PROPERTY_BYTES`] in all; nothing changed.
    Full,
}
