//! Live properties of each kind of resource, exactly those API.md lists; any other property a
//! client asks for is answered in a `404` propstat, never as an error.

use actix_web::http::header::HttpDate;

use contacts_domain::addressbook::ClientProperty;

use crate::backend::{BookInfo, CardEntry, DavUser, SyncToken};
use crate::paths;
use crate::xml::Name;
use crate::xml::write::{Node, PropStat};

/// Largest card accepted, in bytes (`max-resource-size`, and `413` above it).
pub const MAX_CARD_BYTES: usize = 1024 * 1024;

/// The media type of every card.
pub const VCARD_TYPE: &str = "text/vcard; charset=utf-8";

const SYNC_TOKEN_PREFIX: &str = "http://contacts-api/ns/sync/";

/// A token as `{book}-{seq}` (with `-{horizon}` when it differs, see [`SyncToken::horizon`]):
/// the `getctag`, and the tail of the sync token URI.
pub(crate) fn token_text(token: SyncToken) -> String {
    if token.horizon == token.seq {
        format!("{}-{}", token.book, token.seq)
    } else {
        format!("{}-{}-{}", token.book, token.seq, token.horizon)
    }
}

/// A sync token as the URI clients see.
pub fn sync_token_uri(token: SyncToken) -> String {
    format!("{SYNC_TOKEN_PREFIX}{}", token_text(token))
}

/// The token inside a sync token URI; `None` when it is not one of ours (a bare number, as
/// tokens were before they named the book's incarnation, included).
pub fn parse_sync_token(uri: &str) -> Option<SyncToken> {
    let parts: Vec<&str> = uri.trim().strip_prefix(SYNC_TOKEN_PREFIX)?.split('-').collect();
    let number = |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten();
    let (book, seq, horizon) = match parts[..] {
        [book, seq] => (number(book)?, number(seq)?, number(seq)?),
        [book, seq, horizon] => (number(book)?, number(seq)?, number(horizon)?),
        _ => return None,
    };
    // A horizon is never behind the position: a sync that passed it has seen every deletion.
    if horizon < seq {
        return None;
    }
    Some(SyncToken { book, seq, horizon })
}

/// A resource whose properties are asked for.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// `/dav/`.
    Root,
    /// `/dav/principals/`.
    Principals,
    /// `/dav/addressbooks/`.
    Homes,
    /// The caller's principal.
    Principal,
    /// The caller's address-book home.
    Home,
    /// One of the caller's address books.
    Book(&'a BookInfo),
    /// A card (its text only present in reports that asked for `address-data`).
    Card(&'a CardEntry),
}

/// What a PROPFIND or report asks for.
#[derive(Debug, Clone, Copy)]
pub enum Wanted<'a> {
    /// `allprop`: every property but the expensive or report-only ones, and those of them
    /// named here (its `include`).
    All(&'a [Name]),
    /// `propname`: the names only.
    Names,
    /// These properties.
    Props(&'a [Name]),
}

fn privileges(names: &[&'static str]) -> Node {
    Node::parent(
        Name::dav("current-user-privilege-set"),
        names.iter().map(|p| Node::parent(Name::dav("privilege"), vec![Node::empty(Name::dav(p))])).collect(),
    )
}

fn resourcetype(kinds: Vec<Name>) -> Node {
    Node::parent(Name::dav("resourcetype"), kinds.into_iter().map(Node::empty).collect())
}

/// The names of every property a resource has, for `propname`; for `allprop` (`all` false)
/// without those their RFCs say `allprop` SHOULD NOT return (RFC 6352 6.2, 7.1.1 and 8.3.1;
/// RFC 6578 4): clients ask for them by name.
fn all_names(resource: Resource<'_>, all: bool) -> Vec<Name> {
    let mut names =
        vec![Name::dav("resourcetype"), Name::dav("current-user-principal"), Name::dav("current-user-privilege-set")];
    match resource {
        Resource::Root | Resource::Principals | Resource::Homes => {}
        Resource::Principal => {
            names.extend([Name::dav("displayname"), Name::dav("principal-URL"), Name::dav("owner")]);
            if all {
                names.push(Name::carddav("addressbook-home-set"));
            }
        }
        Resource::Home => names.push(Name::dav("owner")),
        Resource::Book(_) => {
            names.extend([
                Name::dav("displayname"),
                Name::dav("owner"),
                Name::calserver("getctag"),
                Name::dav("getetag"),
                Name::dav("supported-report-set"),
            ]);
            if all {
                names.extend([
                    Name::carddav("addressbook-description"),
                    Name::dav("sync-token"),
                    Name::carddav("supported-address-data"),
                    Name::carddav("supported-collation-set"),
                    Name::carddav("max-resource-size"),
                ]);
            }
        }
        Resource::Card(_) => names.extend([
            Name::dav("owner"),
            Name::dav("getetag"),
            Name::dav("getcontenttype"),
            Name::dav("getcontentlength"),
            Name::dav("getlastmodified"),
        ]),
    }
    names
}

/// The value of one property of a resource, or `None` when it has no such property.
fn value(user: &DavUser, resource: Resource<'_>, name: &Name) -> Option<Node> {
    let principal = || paths::principal_href(&user.username);
    let href_prop = |prop: Name, href: String| Some(Node::parent(prop, vec![Node::href(href)]));
    if name.is_dav("current-user-principal") {
        return href_prop(name.clone(), principal());
    }
    if name.is_dav("resourcetype") {
        return Some(resourcetype(match resource {
            Resource::Principal => vec![Name::dav("collection"), Name::dav("principal")],
            Resource::Book(_) => vec![Name::dav("collection"), Name::carddav("addressbook")],
            Resource::Card(_) => vec![],
            _ => vec![Name::dav("collection")],
        }));
    }
    if name.is_dav("current-user-privilege-set") {
        return Some(privileges(match resource {
            Resource::Root | Resource::Principals | Resource::Homes | Resource::Principal => &["read"],
            // The home keeps properties clients set (its `me-card`), and holds books made and removed.
            Resource::Home => &["read", "write-properties", "bind", "unbind"],
            Resource::Book(_) => &["all", "read", "write", "write-properties", "write-content", "bind", "unbind"],
            Resource::Card(_) => &["all", "read", "write", "write-properties", "write-content"],
        }));
    }
    match resource {
        Resource::Root | Resource::Principals | Resource::Homes => None,
        Resource::Principal => {
            if name.is_dav("displayname") {
                Some(Node::text(name.clone(), user.username.as_str()))
            } else if name.is_dav("principal-URL") || name.is_dav("owner") {
                href_prop(name.clone(), principal())
            } else if name.is_carddav("addressbook-home-set") {
                href_prop(name.clone(), paths::home_href(&user.username))
            } else {
                None
            }
        }
        Resource::Home => name.is_dav("owner").then(|| href_prop(name.clone(), principal())).flatten(),
        Resource::Book(book) => {
            if name.is_dav("displayname") {
                Some(Node::text(name.clone(), book.displayname.as_deref().unwrap_or(&book.name)))
            } else if name.is_carddav("addressbook-description") {
                book.description.as_ref().map(|d| Node::text(name.clone(), d.as_str()))
            } else if name.is_dav("owner") {
                href_prop(name.clone(), principal())
            } else if *name == Name::calserver("getctag") {
                Some(Node::text(name.clone(), token_text(book.sync_token)))
            } else if name.is_dav("getetag") {
                Some(Node::text(name.clone(), format!("\"{}\"", token_text(book.sync_token))))
            } else if name.is_dav("sync-token") {
                Some(Node::text(name.clone(), sync_token_uri(book.sync_token)))
            } else if name.is_carddav("supported-address-data") {
                let types = ["3.0", "4.0"]
                    .iter()
                    .map(|v| {
                        Node::empty(Name::carddav("address-data-type"))
                            .with_attr("content-type", "text/vcard")
                            .with_attr("version", *v)
                    })
                    .collect();
                Some(Node::parent(name.clone(), types))
            } else if name.is_dav("supported-report-set") {
                let reports = [
                    Name::dav("sync-collection"),
                    Name::carddav("addressbook-multiget"),
                    Name::carddav("addressbook-query"),
                ]
                .into_iter()
                .map(|r| {
                    Node::parent(
                        Name::dav("supported-report"),
                        vec![Node::parent(Name::dav("report"), vec![Node::empty(r)])],
                    )
                })
                .collect();
                Some(Node::parent(name.clone(), reports))
            } else if name.is_carddav("max-resource-size") {
                Some(Node::text(name.clone(), MAX_CARD_BYTES.to_string()))
            } else if name.is_carddav("supported-collation-set") {
                // The collations `text-match` implements (RFC 6352 8.3: the first two required).
                let collations = ["i;ascii-casemap", "i;unicode-casemap", "i;octet"]
                    .into_iter()
                    .map(|c| Node::text(Name::carddav("supported-collation"), c))
                    .collect();
                Some(Node::parent(name.clone(), collations))
            } else {
                None
            }
        }
        Resource::Card(card) => {
            if name.is_dav("owner") {
                href_prop(name.clone(), principal())
            } else if name.is_dav("getetag") {
                Some(Node::text(name.clone(), format!("\"{}\"", card.meta.etag)))
            } else if name.is_dav("getcontenttype") {
                Some(Node::text(name.clone(), VCARD_TYPE))
            } else if name.is_dav("getcontentlength") {
                Some(Node::text(name.clone(), card.meta.length.to_string()))
            } else if name.is_dav("getlastmodified") {
                // RFC 4918 15.7: an RFC 1123 date, as HTTP's `Last-Modified`.
                Some(Node::text(name.clone(), HttpDate::from(card.meta.modified).to_string()))
            } else if name.is_carddav("address-data") {
                card.text.as_ref().map(|text| Node::text(name.clone(), text.as_str()))
            } else {
                None
            }
        }
    }
}

/// Whether a client may keep a property of this name on a book or the home (a "dead" property,
/// RFC 4918 4.1): any name outside the namespaces whose properties this server defines
/// (`DAV:`, CardDAV), CalendarServer's `getctag` (live) excepted.
pub fn is_client_property(name: &Name) -> bool {
    name.ns != crate::xml::DAV && name.ns != crate::xml::CARDDAV && *name != Name::calserver("getctag")
}

/// A kept property as an answer's element.
fn kept_node(property: &ClientProperty) -> Node {
    Node::raw(Name::owned(property.namespace.as_str(), property.name.as_str()), property.value.clone())
}

fn kept_name(property: &ClientProperty, name: &Name) -> bool {
    property.namespace == name.ns && property.name == name.local
}

/// The propstats of a resource for a request: found properties under `200`, the others
/// under `404`. `kept` are the properties its clients keep on it (none for most resources).
pub fn propstats(
    user: &DavUser,
    resource: Resource<'_>,
    wanted: Wanted<'_>,
    kept: &[&ClientProperty],
) -> Vec<PropStat> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    match wanted {
        Wanted::Names => {
            found = all_names(resource, true).into_iter().map(Node::empty).collect();
            found.extend(kept.iter().map(|p| Node::empty(Name::owned(p.namespace.as_str(), p.name.as_str()))));
        }
        Wanted::All(include) => {
            let names = all_names(resource, false);
            found = names.iter().filter_map(|n| value(user, resource, n)).collect();
            found.extend(kept.iter().map(|p| kept_node(p)));
            // RFC 4918 14.8: `include` adds live properties `allprop` leaves out.
            for name in include.iter().filter(|n| !names.contains(n) && !kept.iter().any(|p| kept_name(p, n))) {
                match value(user, resource, name) {
                    Some(node) => found.push(node),
                    None => missing.push(Node::empty(name.clone())),
                }
            }
        }
        Wanted::Props(names) => {
            for name in names {
                let live = || value(user, resource, name);
                let client = || kept.iter().find(|p| kept_name(p, name)).map(|p| kept_node(p));
                match live().or_else(client) {
                    Some(node) => found.push(node),
                    None => missing.push(Node::empty(name.clone())),
                }
            }
        }
    }
    vec![PropStat { status: 200, props: found }, PropStat { status: 404, props: missing }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use contacts_domain::user::UserId;

    #[test]
    fn sync_tokens_round_trip_and_foreign_ones_are_refused() {
        let token = SyncToken::at(7, 42);
        assert_eq!(sync_token_uri(token), "http://contacts-api/ns/sync/7-42");
        assert_eq!(parse_sync_token(&sync_token_uri(token)), Some(token));
        assert_eq!(parse_sync_token(" http://contacts-api/ns/sync/7-0\n"), Some(SyncToken::at(7, 0)));
        let resuming = SyncToken { book: 7, seq: 3, horizon: 42 };
        assert_eq!(sync_token_uri(resuming), "http://contacts-api/ns/sync/7-3-42");
        assert_eq!(parse_sync_token(&sync_token_uri(resuming)), Some(resuming));
        for foreign in [
            "http://radicale.org/ns/sync/abc",
            "http://contacts-api/ns/sync/-1",
            "http://contacts-api/ns/sync/42",
            "http://contacts-api/ns/sync/7--1",
            "http://contacts-api/ns/sync/7-+1",
            "http://contacts-api/ns/sync/-7",
            "http://contacts-api/ns/sync/7-",
            "http://contacts-api/ns/sync/7-2-1",
            "http://contacts-api/ns/sync/7-1-2-3",
            "http://contacts-api/ns/sync/7-1-",
            "http://contacts-api/ns/sync/99999999999999999999-1",
        ] {
            assert_eq!(parse_sync_token(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn allprop_leaves_out_what_clients_ask_for_by_name_and_propname_lists_it() {
        let user = DavUser { id: UserId(1), username: "ada".into() };
        let book = BookInfo {
            name: "contacts".into(),
            displayname: None,
            description: Some("work".into()),
            sync_token: SyncToken::at(1, 3),
            is_default: true,
        };
        let by_name = [
            Name::carddav("addressbook-description"),
            Name::dav("sync-token"),
            Name::carddav("supported-address-data"),
            Name::carddav("supported-collation-set"),
            Name::carddav("max-resource-size"),
        ];
        let names = |resource, wanted| -> Vec<Name> {
            propstats(&user, resource, wanted, &[])[0].props.iter().map(|n| n.name.clone()).collect()
        };
        let all = names(Resource::Book(&book), Wanted::All(&[]));
        assert!(all.contains(&Name::dav("getetag")), "{all:?}");
        assert!(by_name.iter().all(|n| !all.contains(n)), "{all:?}");
        let listed = names(Resource::Book(&book), Wanted::Names);
        assert!(by_name.iter().all(|n| listed.contains(n)), "{listed:?}");
        let home_set = Name::carddav("addressbook-home-set");
        assert!(!names(Resource::Principal, Wanted::All(&[])).contains(&home_set));
        assert!(names(Resource::Principal, Wanted::Names).contains(&home_set));
        // RFC 4918 14.8: what `include` names comes too; a name the resource lacks is a 404.
        let include = [Name::dav("sync-token"), Name::carddav("max-resource-size"), Name::owned("urn:x", "none")];
        let with = propstats(&user, Resource::Book(&book), Wanted::All(&include), &[]);
        let found: Vec<Name> = with[0].props.iter().map(|n| n.name.clone()).collect();
        assert!(include[..2].iter().all(|n| found.contains(n)) && found.contains(&Name::dav("getetag")), "{found:?}");
        assert_eq!(with[1].props, vec![Node::empty(include[2].clone())]);

        let asked = [Name::carddav("supported-collation-set")];
        let set = &propstats(&user, Resource::Book(&book), Wanted::Props(&asked), &[])[0].props[0];
        let collations: Vec<&str> = set.children.iter().filter_map(|c| c.text.as_deref()).collect();
        assert_eq!(collations, ["i;ascii-casemap", "i;unicode-casemap", "i;octet"]);
    }

    #[test]
    fn unknown_properties_land_in_the_404_propstat() {
        let user = DavUser { id: UserId(1), username: "ada".into() };
        let book = BookInfo {
            name: "contacts".into(),
            displayname: None,
            description: None,
            sync_token: SyncToken::at(1, 3),
            is_default: true,
        };
        let asked = [Name::dav("displayname"), Name::owned("urn:x", "y"), Name::dav("getcontenttype")];
        let stats = propstats(&user, Resource::Book(&book), Wanted::Props(&asked), &[]);
        assert_eq!(stats[0].props, vec![Node::text(Name::dav("displayname"), "contacts")]);
        assert_eq!(
            stats[1].props,
            vec![Node::empty(Name::owned("urn:x", "y")), Node::empty(Name::dav("getcontenttype"))]
        );
    }
}
