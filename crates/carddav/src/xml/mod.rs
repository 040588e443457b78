//! WebDAV's XML: reading request bodies into plain requests, writing multistatus answers.
//!
//! Names are `(namespace, local name)` pairs with namespaces resolved, so `<D:prop>` and
//! `<prop xmlns="DAV:">` are the same; names in namespaces we do not know are kept as pairs
//! and answered as `404` properties.

use std::borrow::Cow;
use std::fmt;

pub mod parse;
pub mod write;

/// The WebDAV namespace (RFC 4918).
pub const DAV: &str = "DAV:";
/// The CardDAV namespace (RFC 6352).
pub const CARDDAV: &str = "urn:ietf:params:xml:ns:carddav";
/// CalendarServer's namespace, home of `getctag`.
pub const CALSERVER: &str = "http://calendarserver.org/ns/";
/// Apple's iCal namespace (colours and orders clients may ask for).
pub const APPLE_ICAL: &str = "http://apple.com/ns/ical/";

/// Whether XML 1.0 allows `c` in a document (its `Char` production), as text or through a
/// character reference: not the C0 controls other than tab and line breaks, nor U+FFFE and
/// U+FFFF. A response holding one is not well-formed, and clients drop the whole response.
pub fn is_xml_char(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Whether `name` is an XML name as the namespaces recommendation allows it in a tag: a local
/// name, or a prefix and a local name joined by one colon, each an `NCName`. quick-xml takes
/// any bytes up to a space or `>` as a tag's name (`<a/b/>`, `<a&amp;b/>`), and an unknown
/// property's name is written back in the `404` propstat: one that is not a name would make
/// the whole answer unreadable.
pub fn is_qualified_name(name: &str) -> bool {
    let mut parts = name.split(':');
    let first = parts.next().is_some_and(is_ncname);
    match (parts.next(), parts.next()) {
        (None, _) => first,
        (Some(local), None) => first && is_ncname(local),
        (Some(_), Some(_)) => false,
    }
}

/// XML 1.0's `Name` without colons (`NCName`): a name-start character, then name characters.
fn is_ncname(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start_char) && chars.all(is_name_char)
}

/// XML 1.0's `NameStartChar`, less the colon.
fn is_name_start_char(c: char) -> bool {
    matches!(c,
        'A'..='Z' | '_' | 'a'..='z' | '\u{c0}'..='\u{d6}' | '\u{d8}'..='\u{f6}' | '\u{f8}'..='\u{2ff}'
        | '\u{370}'..='\u{37d}' | '\u{37f}'..='\u{1fff}' | '\u{200c}'..='\u{200d}' | '\u{2070}'..='\u{218f}'
        | '\u{2c00}'..='\u{2fef}' | '\u{3001}'..='\u{d7ff}' | '\u{f900}'..='\u{fdcf}' | '\u{fdf0}'..='\u{fffd}'
        | '\u{10000}'..='\u{effff}')
}

/// XML 1.0's `NameChar`, less the colon.
fn is_name_char(c: char) -> bool {
    is_name_start_char(c)
        || matches!(c, '-' | '.' | '0'..='9' | '\u{b7}' | '\u{300}'..='\u{36f}' | '\u{203f}'..='\u{2040}')
}

/// An element or property name with its namespace resolved (empty: no namespace).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    /// The namespace URI.
    pub ns: Cow<'static, str>,
    /// The local name.
    pub local: Cow<'static, str>,
}

impl Name {
    /// A name in the `DAV:` namespace.
    pub const fn dav(local: &'static str) -> Self {
        Self { ns: Cow::Borrowed(DAV), local: Cow::Borrowed(local) }
    }

    /// A name in the CardDAV namespace.
    pub const fn carddav(local: &'static str) -> Self {
        Self { ns: Cow::Borrowed(CARDDAV), local: Cow::Borrowed(local) }
    }

    /// A name in CalendarServer's namespace.
    pub const fn calserver(local: &'static str) -> Self {
        Self { ns: Cow::Borrowed(CALSERVER), local: Cow::Borrowed(local) }
    }

    /// A name read from a request.
    pub fn owned(ns: impl Into<String>, local: impl Into<String>) -> Self {
        Self { ns: Cow::Owned(ns.into()), local: Cow::Owned(local.into()) }
    }

    /// Whether this is `DAV:{local}`.
    pub fn is_dav(&self, local: &str) -> bool {
        self.ns == DAV && self.local == local
    }

    /// Whether this is `CARDDAV:{local}`.
    pub fn is_carddav(&self, local: &str) -> bool {
        self.ns == CARDDAV && self.local == local
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}{}", self.ns, self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_are_xml_names_with_at_most_one_prefix() {
        for good in ["prop", "d:prop", "card:addressbook-home-set", "_x.y-z9", "é", "x:ünï\u{b7}"] {
            assert!(is_qualified_name(good), "{good}");
        }
        for bad in ["", "a/b", "a&amp;b", "a:b:c", ":a", "a:", "9a", "-a", ".a", "a b", "a\u{1}", "a\"", "a<", "d:a/"] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
    }
}
