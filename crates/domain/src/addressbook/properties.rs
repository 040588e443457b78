//! Properties a sync client keeps on its address books, on the home that holds them and on
//! cards (WebDAV's "dead" properties, RFC 4918 4.1): macOS Contacts keeps which card is "me" on
//! the home, other clients colours or orders. The service stores them and gives them back; it
//! never reads them, so their values are opaque text here. What a change makes of them, and
//! whether that passes a bound, is [`after_changes`], the one rule every store applies.

use std::collections::HashMap;

/// Most properties one holder (the home, a book, a card) keeps: clients set a handful, and the
/// bound keeps a client from filling the database through them.
pub const MAX_CLIENT_PROPERTIES: i64 = 100;

/// Largest value of one property, in bytes (a colour or an href is tens of bytes).
pub const MAX_CLIENT_PROPERTY_BYTES: usize = 16 * 1024;

/// Longest namespace, and longest local name, of a property kept, in bytes each: real ones are
/// tens of bytes, and the two together must fit the store's index of names (PostgreSQL refuses
/// an index entry past about 2.7 KB).
pub const MAX_CLIENT_PROPERTY_NAME_BYTES: usize = 1024;

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

/// A book's new labels, as one change of its properties sets them: each one given replaces the
/// book's (empty: the book has none), each left `None` stays. Only a book has labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BookLabels<'a> {
    /// Its display name.
    pub display_name: Option<&'a str>,
    /// Its description.
    pub description: Option<&'a str>,
}

impl BookLabels<'_> {
    /// No label changes.
    pub const NONE: Self = Self { display_name: None, description: None };

    /// Whether no label changes.
    pub fn is_none(&self) -> bool {
        self.display_name.is_none() && self.description.is_none()
    }
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

/// What a holder keeps after `changes`, applied in order to what it keeps now (`kept`): the last
/// change of a name decides, names it does not touch stay as they are (in their order, then the
/// new ones in the order first set). `None` when the result would pass
/// [`MAX_CLIENT_PROPERTIES`] or [`MAX_HELD_PROPERTY_BYTES`], so nothing may change.
///
/// One pass over each list: a request may carry thousands of changes, and each must not cost a
/// walk over the others.
pub fn after_changes(kept: &[ClientProperty], changes: &[PropertyChange]) -> Option<Vec<ClientProperty>> {
    let mut last: HashMap<(&str, &str), Option<&str>> = HashMap::new();
    let mut first_set: Vec<(&str, &str)> = Vec::new();
    for change in changes {
        let key = (change.namespace.as_str(), change.name.as_str());
        if last.insert(key, change.value.as_deref()).is_none() {
            first_set.push(key);
        }
    }
    let untouched = kept.iter().filter(|p| !last.contains_key(&(p.namespace.as_str(), p.name.as_str()))).cloned();
    let set = first_set.into_iter().filter_map(|key| {
        let value = last[&key]?;
        Some(ClientProperty { namespace: key.0.to_owned(), name: key.1.to_owned(), value: value.to_owned() })
    });
    let after: Vec<ClientProperty> = untouched.chain(set).collect();
    let bytes: usize = after.iter().map(|p| p.value.len()).sum();
    let within = after.len() <= MAX_CLIENT_PROPERTIES as usize && bytes <= MAX_HELD_PROPERTY_BYTES as usize;
    within.then_some(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn property(name: &str, value: &str) -> ClientProperty {
        ClientProperty { namespace: "urn:x".into(), name: name.into(), value: value.into() }
    }

    fn change(name: &str, value: Option<&str>) -> PropertyChange {
        PropertyChange { namespace: "urn:x".into(), name: name.into(), value: value.map(str::to_owned) }
    }

    #[test]
    fn the_last_change_of_a_name_decides_and_untouched_ones_stay() {
        let kept = [property("a", "1"), property("b", "2"), property("c", "3")];
        let changes = [
            change("b", Some("x")),
            change("d", Some("4")),
            change("b", None),
            change("c", Some("y")),
            change("e", None),
            change("c", Some("z")),
        ];
        let after = after_changes(&kept, &changes).unwrap();
        assert_eq!(after, [property("a", "1"), property("d", "4"), property("c", "z")]);
        // Another namespace is another name.
        let other = PropertyChange { namespace: "urn:y".into(), name: "a".into(), value: None };
        assert_eq!(after_changes(&kept, &[other]).unwrap(), kept);
    }

    #[test]
    fn a_result_past_a_bound_is_refused_and_one_within_it_taken() {
        let full: Vec<PropertyChange> =
            (0..MAX_CLIENT_PROPERTIES).map(|i| change(&format!("p{i}"), Some("v"))).collect();
        let at_bound = after_changes(&[], &full).unwrap();
        assert_eq!(at_bound.len() as i64, MAX_CLIENT_PROPERTIES);
        assert_eq!(after_changes(&at_bound, &[change("one-more", Some("v"))]), None);
        let swapped = after_changes(&at_bound, &[change("p0", None), change("one-more", Some("v"))]).unwrap();
        assert_eq!(swapped.len() as i64, MAX_CLIENT_PROPERTIES, "a removal makes room in the same change");

        let half = "x".repeat(MAX_HELD_PROPERTY_BYTES as usize / 2);
        let heavy = after_changes(&[], &[change("h1", Some(&half)), change("h2", Some(&half))]).unwrap();
        assert_eq!(after_changes(&heavy, &[change("h3", Some("x"))]), None);
        assert!(after_changes(&heavy, &[change("h1", Some("x")), change("h3", Some("x"))]).is_some());
        // Many changes of few names are judged by what stays, not by how many were sent.
        let churn: Vec<PropertyChange> = (0..10_000).map(|i| change("same", Some(&i.to_string()))).collect();
        assert_eq!(after_changes(&[], &churn).unwrap(), [property("same", "9999")]);
    }
}
