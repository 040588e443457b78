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
