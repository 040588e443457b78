//! The DAV URL space: parsing request paths into [`Target`]s and writing hrefs back.
//!
//! ```text
//! /dav/                                        root
//! /dav/principals/                             principals collection
//! /dav/principals/{username}/                  a user's principal
//! /dav/addressbooks/                           homes collection
//! /dav/addressbooks/{username}/                a user's address-book home
//! /dav/addressbooks/{username}/{book}/         an address book
//! /dav/addressbooks/{username}/{book}/{card}   a card
//! ```
//!
//! Segments are percent-decoded UTF-8 and compared exactly (case included); hrefs written back
//! percent-encode everything but unreserved characters and `@`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Where the DAV tree is mounted.
pub const ROOT: &str = "/dav/";

/// Characters kept as they are in a path segment of an href: RFC 3986's unreserved ones, and
/// `@` (an email-like card name reads better, and clients keep it too).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@');

/// A resource of the DAV tree, named by a request path or an href.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/dav/`.
    Root,
    /// `/dav/principals/`.
    Principals,
    /// `/dav/principals/{username}/`.
    Principal(String),
    /// `/dav/addressbooks/`.
    Homes,
    /// `/dav/addressbooks/{username}/`.
    Home(String),
    /// `/dav/addressbooks/{username}/{book}/`.
    Book(String, String),
    /// `/dav/addressbooks/{username}/{book}/{card}`.
    Card(String, String, String),
}

impl Target {
    /// Parses a raw (percent-encoded) request path. `None` for paths outside the tree, with
    /// empty or undecodable segments, or a card path ending in `/`.
    pub fn parse(path: &str) -> Option<Self> {
        let rest = path.strip_prefix("/dav")?;
        if rest.is_empty() || rest == "/" {
            return Some(Self::Root);
        }
        let rest = rest.strip_prefix('/')?;
        let trailing_slash = rest.ends_with('/');
        let trimmed = rest.strip_suffix('/').unwrap_or(rest);
        let segments: Vec<String> = trimmed.split('/').map(decode).collect::<Option<_>>()?;
        if segments.iter().any(|s| s.is_empty() || s == "." || s == "..") {
            return None;
        }
        let mut parts = segments.into_iter();
        let kind = parts.next()?;
        let parts: Vec<String> = parts.collect();
        match (kind.as_str(), parts.as_slice()) {
            ("principals", []) => Some(Self::Principals),
            ("principals", [user]) => Some(Self::Principal(user.clone())),
            ("addressbooks", []) => Some(Self::Homes),
            ("addressbooks", [user]) => Some(Self::Home(user.clone())),
            ("addressbooks", [user, book]) => Some(Self::Book(user.clone(), book.clone())),
            ("addressbooks", [user, book, card]) if !trailing_slash => {
                Some(Self::Card(user.clone(), book.clone(), card.clone()))
            }
            _ => None,
        }
    }

    /// Parses an href from a request body or a `Destination` header, resolved against the
    /// request's path `base` as RFC 4918 8.3 asks: an absolute URL (whose path is used), an
    /// absolute path, or a relative reference (`alice.vcf`), dot segments removed (RFC 3986
    /// 5.2).
    pub fn parse_href(href: &str, base: &str) -> Option<Self> {
        let href = href.trim();
        let path = match href.find("://") {
            Some(scheme_end) => {
                let after = &href[scheme_end + 3..];
                &after[after.find('/')?..]
            }
            None => href,
        };
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let joined = match path.starts_with('/') {
            true => path.to_owned(),
            // Relative to the base's folder: a collection's path ends in `/`.
            false => format!("{}{path}", &base[..base.rfind('/').map_or(0, |i| i + 1)]),
        };
        Self::parse(&remove_dot_segments(&joined))
    }

    /// The user whose tree this resource is in, if any.
    pub fn owner(&self) -> Option<&str> {
        match self {
            Self::Root | Self::Principals | Self::Homes => None,
            Self::Principal(user) | Self::Home(user) | Self::Book(user, _) | Self::Card(user, _, _) => Some(user),
        }
    }

    /// The pattern of paths this resource's kind has (`/dav/addressbooks/{username}/{book}/`):
    /// what a metric may be labelled with, never the names themselves.
    pub fn pattern(&self) -> &'static str {
        match self {
            Self::Root => ROOT,
            Self::Principals => "/dav/principals/",
            Self::Principal(_) => "/dav/principals/{username}/",
            Self::Homes => "/dav/addressbooks/",
            Self::Home(_) => "/dav/addressbooks/{username}/",
            Self::Book(..) => "/dav/addressbooks/{username}/{book}/",
            Self::Card(..) => "/dav/addressbooks/{username}/{book}/{card}",
        }
    }

    /// Whether this resource is a collection (its href ends in `/`).
    pub fn is_collection(&self) -> bool {
        !matches!(self, Self::Card(..))
    }

    /// The percent-encoded href of this resource.
    pub fn href(&self) -> String {
        match self {
            Self::Root => ROOT.to_owned(),
            Self::Principals => "/dav/principals/".to_owned(),
            Self::Principal(user) => principal_href(user),
            Self::Homes => "/dav/addressbooks/".to_owned(),
            Self::Home(user) => home_href(user),
            Self::Book(user, book) => book_href(user, book),
            Self::Card(user, book, card) => card_href(&book_href(user, book), card),
        }
    }
}

/// An absolute path with its `.` and `..` segments resolved (RFC 3986 5.2.4); a `..` above the
/// root stays at the root.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                // A dot segment at the end names a folder: the path keeps its `/`.
                if last {
                    out.push("");
                }
            }
            _ => out.push(segment),
        }
    }
    format!("/{}", out.join("/"))
}

/// A segment's text, or `None` when it is not UTF-8 or holds a NUL: no stored name can hold
/// one, and the database would refuse to even compare it.
fn decode(segment: &str) -> Option<String> {
    percent_decode_str(segment).decode_utf8().ok().filter(|s| !s.contains('\0')).map(|s| s.into_owned())
}

/// Percent-encodes one path segment.
pub fn encode(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

/// `/dav/principals/{username}/`.
pub fn principal_href(user: &str) -> String {
    format!("/dav/principals/{}/", encode(user))
}

/// `/dav/addressbooks/{username}/`.
pub fn home_href(user: &str) -> String {
    format!("/dav/addressbooks/{}/", encode(user))
}

/// `/dav/addressbooks/{username}/{book}/`.
pub fn book_href(user: &str, book: &str) -> String {
    format!("/dav/addressbooks/{}/{}/", encode(user), encode(book))
}

/// The href of a card, given its book's href (which ends in `/`).
pub fn card_href(book_href: &str, card: &str) -> String {
    format!("{book_href}{}", encode(card))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn parses_every_level_of_the_tree() {
        assert_eq!(Target::parse("/dav"), Some(Target::Root));
        assert_eq!(Target::parse("/dav/"), Some(Target::Root));
        assert_eq!(Target::parse("/dav/principals/"), Some(Target::Principals));
        assert_eq!(Target::parse("/dav/principals/ada/"), Some(Target::Principal(s("ada"))));
        assert_eq!(Target::parse("/dav/principals/ada"), Some(Target::Principal(s("ada"))));
        assert_eq!(Target::parse("/dav/addressbooks/"), Some(Target::Homes));
        assert_eq!(Target::parse("/dav/addressbooks/ada/"), Some(Target::Home(s("ada"))));
        assert_eq!(Target::parse("/dav/addressbooks/ada/contacts/"), Some(Target::Book(s("ada"), s("contacts"))));
        assert_eq!(Target::parse("/dav/addressbooks/ada/contacts"), Some(Target::Book(s("ada"), s("contacts"))));
        assert_eq!(
            Target::parse("/dav/addressbooks/ada/contacts/x.vcf"),
            Some(Target::Card(s("ada"), s("contacts"), s("x.vcf")))
        );
    }

    #[test]
    fn rejects_paths_outside_the_tree() {
        for path in [
            "/davx",
            "/dav/other/",
            "/dav/principals/ada/more/",
            "/dav/addressbooks/ada/contacts/x.vcf/",
            "/dav/addressbooks/ada/contacts/a/b",
            "/dav/addressbooks//contacts/",
            "/dav/addressbooks/ada/%2e%2e/",
            "/dav/addressbooks/ada/%FF/",
            "/dav/addressbooks/ada/con%00tacts/",
            "/dav/addressbooks/ada/contacts/x%00.vcf",
            "/dav/principals/a%00da/",
        ] {
            assert_eq!(Target::parse(path), None, "{path}");
        }
    }

    #[test]
    fn segments_are_decoded_utf8_and_hrefs_encode_them_back() {
        let target = Target::parse("/dav/addressbooks/ada/My%20Book/J%C3%BCrgen%20%2F%20x.vcf").unwrap();
        assert_eq!(target, Target::Card(s("ada"), s("My Book"), s("Jürgen / x.vcf")));
        assert_eq!(target.href(), "/dav/addressbooks/ada/My%20Book/J%C3%BCrgen%20%2F%20x.vcf");
        assert_eq!(Target::parse(&target.href()), Some(target));
        assert_eq!(encode("a@b.c_d-e~f"), "a@b.c_d-e~f");
    }

    #[test]
    fn hrefs_may_be_absolute_urls_or_relative_to_the_request() {
        let book = "/dav/addressbooks/ada/contacts/";
        let card = |name: &str| Some(Target::Card(s("ada"), s("contacts"), s(name)));
        assert_eq!(Target::parse_href("https://example.org/dav/addressbooks/ada/contacts/x.vcf", book), card("x.vcf"));
        assert_eq!(Target::parse_href(" /dav/addressbooks/ada/ ", book), Some(Target::Home(s("ada"))));
        assert_eq!(Target::parse_href("https://example.org", book), None);
        // RFC 4918 8.3: relative to the request URI, dot segments resolved.
        assert_eq!(Target::parse_href("x.vcf", book), card("x.vcf"));
        assert_eq!(Target::parse_href("x.vcf", "/dav/addressbooks/ada/contacts/y.vcf"), card("x.vcf"));
        assert_eq!(Target::parse_href("./x.vcf", book), card("x.vcf"));
        assert_eq!(Target::parse_href("../contacts/x.vcf", book), card("x.vcf"));
        assert_eq!(Target::parse_href("/dav/addressbooks/ada/contacts/../contacts/./x.vcf", book), card("x.vcf"));
        assert_eq!(Target::parse_href("..", book), Some(Target::Home(s("ada"))));
        assert_eq!(Target::parse_href("../../../../../dav/", book), Some(Target::Root));
        assert_eq!(Target::parse_href("%2e%2e/x.vcf", book), None, "an encoded dot is no dot segment");
    }
}
