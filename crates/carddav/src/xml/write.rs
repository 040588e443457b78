//! Answers: multistatus documents written with quick-xml's writer, in pieces, so a listing of
//! 50,000 cards is sent response by response instead of being built in memory first.
//!
//! The root element declares the prefixes `D` (DAV:), `C` (CardDAV) and `CS`
//! (CalendarServer); names in any other namespace declare it as their default namespace. `D`
//! and `C` are the prefixes of RFC 6352's examples: a client that re-reads a property's inner
//! XML with only those declared (davlint's does) still finds its names.

use std::borrow::Cow;

use actix_web::web::Bytes;
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};

use super::parse::Element;
use super::{CALSERVER, CARDDAV, DAV, Name, is_qualified_name, is_xml_char};

/// A small element tree for property values and error conditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The element's name.
    pub name: Name,
    /// Attributes without namespace.
    pub attrs: Vec<(&'static str, String)>,
    /// Text content, written escaped.
    pub text: Option<String>,
    /// Child elements.
    pub children: Vec<Node>,
    /// The whole element, already written by [`property_xml`] (a property a client keeps):
    /// written as it is, in place of the fields above.
    pub raw: Option<String>,
}

impl Node {
    /// An empty element.
    pub fn empty(name: Name) -> Self {
        Self { name, attrs: Vec::new(), text: None, children: Vec::new(), raw: None }
    }

    /// An element written before by [`property_xml`], named `name`.
    pub fn raw(name: Name, xml: String) -> Self {
        Self { raw: Some(xml), ..Self::empty(name) }
    }

    /// An element holding text.
    pub fn text(name: Name, text: impl Into<String>) -> Self {
        Self { text: Some(text.into()), ..Self::empty(name) }
    }

    /// An element holding other elements.
    pub fn parent(name: Name, children: Vec<Node>) -> Self {
        Self { children, ..Self::empty(name) }
    }

    /// A `DAV:href` holding an (already percent-encoded) href.
    pub fn href(href: impl Into<String>) -> Self {
        Self::text(Name::dav("href"), href)
    }

    /// Adds an attribute.
    pub fn with_attr(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.attrs.push((name, value.into()));
        self
    }
}

/// One `propstat`: properties sharing a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropStat {
    /// The HTTP status of these properties (`200`, `403`, `404`, `424`).
    pub status: u16,
    /// The properties, with their values (empty elements for those not found, `404`).
    pub props: Vec<Node>,
}

/// One `response` of a multistatus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// A resource and its properties grouped by status.
    Props {
        /// The resource's percent-encoded href.
        href: String,
        /// Its propstats, in the order given (empty ones are left out).
        propstats: Vec<PropStat>,
    },
    /// A resource with only a status (a deleted card in a sync, a missing multiget href).
    Status {
        /// The percent-encoded href.
        href: String,
        /// Its status.
        status: u16,
    },
    /// The request URI of an answer cut at a limit: `507` with
    /// `DAV:number-of-matches-within-limits` (RFC 6352 8.6.1, RFC 6578 3.6).
    Truncated {
        /// The percent-encoded href of the book.
        href: String,
    },
}

/// The status line text of a code used in multistatus bodies.
pub fn status_line(code: u16) -> String {
    let reason = match code {
        200 => "OK",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        424 => "Failed Dependency",
        507 => "Insufficient Storage",
        _ => "",
    };
    format!("HTTP/1.1 {code} {reason}")
}

fn prefix(ns: &str) -> Option<&'static str> {
    match ns {
        DAV => Some("D"),
        CARDDAV => Some("C"),
        CALSERVER => Some("CS"),
        _ => None,
    }
}

fn qualified(name: &Name) -> (String, Option<&str>) {
    match prefix(&name.ns) {
        Some(p) => (format!("{p}:{}", name.local), None),
        None => (name.local.to_string(), Some(&name.ns)),
    }
}

type W = Writer<Vec<u8>>;

fn write_node(w: &mut W, node: &Node) -> std::io::Result<()> {
    if let Some(raw) = &node.raw {
        w.get_mut().extend_from_slice(raw.as_bytes());
        return Ok(());
    }
    let (tag, default_ns) = qualified(&node.name);
    let mut start = BytesStart::new(tag.as_str());
    if let Some(ns) = default_ns {
        start.push_attribute(("xmlns", ns));
    }
    for (key, value) in &node.attrs {
        start.push_attribute((*key, value.as_str()));
    }
    if node.text.is_none() && node.children.is_empty() {
        return w.write_event(Event::Empty(start));
    }
    w.write_event(Event::Start(start))?;
    if let Some(text) = &node.text {
        // Quotes need no escaping in text: `"etag"` stays readable.
        w.write_event(Event::Text(BytesText::from_escaped(partial_escape(well_formed(text)))))?;
    }
    for child in &node.children {
        write_node(w, child)?;
    }
    w.write_event(Event::End(BytesEnd::new(tag.as_str())))
}

/// `text` with every character XML 1.0 does not allow replaced by U+FFFD, so that no stored
/// value (a card imported before such cards were refused, a control character a conversion
/// decoded from quoted-printable) can make a whole multistatus unreadable.
fn well_formed(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(text.chars().map(|c| if is_xml_char(c) { c } else { char::REPLACEMENT_CHARACTER }).collect())
    }
}

fn start_root(w: &mut W, tag: &str) -> std::io::Result<()> {
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    let mut root = BytesStart::new(tag);
    root.push_attribute(("xmlns:D", DAV));
    root.push_attribute(("xmlns:C", CARDDAV));
    root.push_attribute(("xmlns:CS", CALSERVER));
    w.write_event(Event::Start(root))
}

fn finish(result: std::io::Result<()>, w: W) -> Bytes {
    // Writing into a Vec cannot fail.
    result.expect("writing XML into memory");
    Bytes::from(w.into_inner())
}

/// The start of a multistatus document, up to its first response.
pub fn multistatus_start() -> Bytes {
    let mut w = Writer::new(Vec::with_capacity(256));
    let result = start_root(&mut w, "D:multistatus");
    finish(result, w)
}

/// One response, ready to be sent after [`multistatus_start`].
pub fn response(response: &Response) -> Bytes {
    let mut w = Writer::new(Vec::with_capacity(512));
    let result = write_response(&mut w, response);
    finish(result, w)
}

fn write_response(w: &mut W, response: &Response) -> std::io::Result<()> {
    w.write_event(Event::Start(BytesStart::new("D:response")))?;
    match response {
        Response::Props { href, propstats } => {
            write_node(w, &Node::href(href.as_str()))?;
            write_propstats(w, propstats)?;
        }
        Response::Status { href, status } => {
            write_node(w, &Node::href(href.as_str()))?;
            write_node(w, &Node::text(Name::dav("status"), status_line(*status)))?;
        }
        Response::Truncated { href } => {
            write_node(w, &Node::href(href.as_str()))?;
            write_node(w, &Node::text(Name::dav("status"), status_line(507)))?;
            let within = Node::empty(Name::dav("number-of-matches-within-limits"));
            write_node(w, &Node::parent(Name::dav("error"), vec![within]))?;
        }
    }
    w.write_event(Event::End(BytesEnd::new("D:response")))
}

/// The propstats that hold properties.
fn write_propstats(w: &mut W, propstats: &[PropStat]) -> std::io::Result<()> {
    for propstat in propstats.iter().filter(|p| !p.props.is_empty()) {
        w.write_event(Event::Start(BytesStart::new("D:propstat")))?;
        write_node(w, &Node::parent(Name::dav("prop"), propstat.props.clone()))?;
        write_node(w, &Node::text(Name::dav("status"), status_line(propstat.status)))?;
        w.write_event(Event::End(BytesEnd::new("D:propstat")))?;
    }
    Ok(())
}

/// The body of a refused extended `MKCOL` (RFC 5689 3): which properties failed, and how.
pub fn mkcol_response(propstats: &[PropStat]) -> Bytes {
    let mut w = Writer::new(Vec::with_capacity(256));
    let result = (|| {
        start_root(&mut w, "D:mkcol-response")?;
        write_propstats(&mut w, propstats)?;
        w.write_event(Event::End(BytesEnd::new("D:mkcol-response")))
    })();
    finish(result, w)
}

/// The end of a multistatus document, with the sync token of a `sync-collection`.
pub fn multistatus_end(sync_token: Option<&str>) -> Bytes {
    let mut w = Writer::new(Vec::with_capacity(128));
    let result = (|| {
        if let Some(token) = sync_token {
            write_node(&mut w, &Node::text(Name::dav("sync-token"), token))?;
        }
        w.write_event(Event::End(BytesEnd::new("D:multistatus")))
    })();
    finish(result, w)
}

/// A whole multistatus document, for short answers.
pub fn multistatus(responses: &[Response], sync_token: Option<&str>) -> Bytes {
    let mut body = multistatus_start().to_vec();
    for r in responses {
        body.extend_from_slice(&response(r));
    }
    body.extend_from_slice(&multistatus_end(sync_token));
    Bytes::from(body)
}

/// The XML of a property a client sets, to keep and give back as it came (RFC 4918 4.3: with
/// its elements, attributes and namespaces). Every element declares its own namespace as the
/// default one (`xmlns=""` for none), so the text reads the same wherever it is put, whatever
/// prefixes the answer around it declares. Text is written before child elements (mixed content
/// keeps its characters, not their places between elements).
pub fn property_xml(element: &Element) -> String {
    let mut w = Writer::new(Vec::with_capacity(128));
    let result = write_element(&mut w, element);
    let bytes = finish(result, w);
    // The writer writes only the UTF-8 text of the parsed element.
    String::from_utf8(bytes.to_vec()).expect("XML written from UTF-8 text")
}

/// The namespace the prefix `xml` is bound to in every document (`xml:lang`, `xml:space`).
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

fn write_element(w: &mut W, element: &Element) -> std::io::Result<()> {
    let tag = element.name.local.as_ref();
    let mut start = BytesStart::new(tag);
    start.push_attribute(("xmlns", element.name.ns.as_ref()));
    let mut declared = 0;
    // quick-xml reads attribute names leniently; one that is no XML name would make the whole
    // answer unreadable, so it is not kept.
    let attrs = element.attrs.iter().filter(|(name, _)| !name.local.contains(':') && is_qualified_name(&name.local));
    for (name, value) in attrs {
        let value = well_formed(value);
        if name.ns.is_empty() {
            start.push_attribute((name.local.as_ref(), value.as_ref()));
        } else if name.ns == XML_NS {
            start.push_attribute((format!("xml:{}", name.local).as_str(), value.as_ref()));
        } else {
            let prefix = format!("a{declared}");
            declared += 1;
            start.push_attribute((format!("xmlns:{prefix}").as_str(), name.ns.as_ref()));
            start.push_attribute((format!("{prefix}:{}", name.local).as_str(), value.as_ref()));
        }
    }
    if element.text.is_empty() && element.children.is_empty() {
        return w.write_event(Event::Empty(start));
    }
    w.write_event(Event::Start(start))?;
    if !element.text.is_empty() {
        w.write_event(Event::Text(BytesText::from_escaped(partial_escape(well_formed(&element.text)))))?;
    }
    for child in &element.children {
        write_element(w, child)?;
    }
    w.write_event(Event::End(BytesEnd::new(tag)))
}

/// A `DAV:error` body naming the precondition or postcondition that failed (RFC 4918, 16).
pub fn error(condition: &Node) -> Bytes {
    let mut w = Writer::new(Vec::with_capacity(256));
    let result = (|| {
        start_root(&mut w, "D:error")?;
        write_node(&mut w, condition)?;
        w.write_event(Event::End(BytesEnd::new("D:error")))
    })();
    finish(result, w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse::parse_document;

    fn text(bytes: &Bytes) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn a_multistatus_groups_properties_by_status_and_reads_back() {
        let responses = [
            Response::Props {
                href: "/dav/addressbooks/ada/My%20Book/".into(),
                propstats: vec![
                    PropStat {
                        status: 200,
                        props: vec![
                            Node::text(Name::dav("displayname"), "Ada's <book> & more"),
                            Node::text(Name::calserver("getctag"), "7"),
                        ],
                    },
                    PropStat { status: 404, props: vec![Node::empty(Name::owned("http://x.example/", "color"))] },
                    PropStat { status: 403, props: vec![] },
                ],
            },
            Response::Status { href: "/dav/addressbooks/ada/My%20Book/gone.vcf".into(), status: 404 },
        ];
        let body = multistatus(&responses, Some("http://contacts-api/ns/sync/7"));
        let xml = text(&body);
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"), "{xml}");
        assert!(xml.contains("Ada's &lt;book&gt; &amp; more"), "{xml}");
        assert!(!xml.contains("403"), "empty propstats are left out: {xml}");

        let root = parse_document(&body).unwrap();
        assert_eq!(root.name, Name::dav("multistatus"));
        let first = &root.children[0];
        assert_eq!(first.child(&Name::dav("href")).unwrap().text, "/dav/addressbooks/ada/My%20Book/");
        let propstats: Vec<_> = first.children.iter().filter(|c| c.name.is_dav("propstat")).collect();
        assert_eq!(propstats.len(), 2);
        let ok = propstats[0].child(&Name::dav("prop")).unwrap();
        assert_eq!(ok.child(&Name::dav("displayname")).unwrap().text, "Ada's <book> & more");
        assert_eq!(ok.child(&Name::calserver("getctag")).unwrap().text, "7");
        assert_eq!(propstats[0].child(&Name::dav("status")).unwrap().text, "HTTP/1.1 200 OK");
        let missing = propstats[1].child(&Name::dav("prop")).unwrap();
        assert_eq!(missing.children[0].name, Name::owned("http://x.example/", "color"));
        assert_eq!(propstats[1].child(&Name::dav("status")).unwrap().text, "HTTP/1.1 404 Not Found");
        assert_eq!(root.children[1].child(&Name::dav("status")).unwrap().text, "HTTP/1.1 404 Not Found");
        assert_eq!(root.children[2].name, Name::dav("sync-token"));
        assert_eq!(root.children[2].text, "http://contacts-api/ns/sync/7");
    }

    #[test]
    fn a_character_xml_does_not_allow_is_replaced_so_the_answer_stays_readable() {
        let card = "BEGIN:VCARD\r\nNOTE:a\u{b}b\u{1b}c\tand\u{fffe}\r\nEND:VCARD\r\n";
        let body = multistatus(
            &[Response::Props {
                href: "/dav/addressbooks/ada/contacts/a.vcf".into(),
                propstats: vec![PropStat { status: 200, props: vec![Node::text(Name::carddav("address-data"), card)] }],
            }],
            None,
        );
        let root = parse_document(&body).unwrap();
        let prop = root.children[0].children[1].child(&Name::dav("prop")).unwrap();
        let data = &prop.child(&Name::carddav("address-data")).unwrap().text;
        assert!(data.contains("NOTE:a\u{fffd}b\u{fffd}c\tand\u{fffd}"), "{data:?}");
    }

    #[test]
    fn names_without_namespace_stay_without_one() {
        let body = multistatus(
            &[Response::Props {
                href: "/dav/".into(),
                propstats: vec![PropStat { status: 404, props: vec![Node::empty(Name::owned("", "bare"))] }],
            }],
            None,
        );
        let root = parse_document(&body).unwrap();
        let prop = root.children[0].children[1].child(&Name::dav("prop")).unwrap();
        assert_eq!(prop.children[0].name, Name::owned("", "bare"));
    }

    #[test]
    fn an_error_body_names_its_condition() {
        let body = error(&Node::parent(Name::carddav("no-uid-conflict"), vec![Node::href("/dav/a/b")]));
        let root = parse_document(&body).unwrap();
        assert_eq!(root.name, Name::dav("error"));
        let condition = root.child(&Name::carddav("no-uid-conflict")).unwrap();
        assert_eq!(condition.child(&Name::dav("href")).unwrap().text, "/dav/a/b");
    }

    #[test]
    fn a_kept_property_reads_back_as_it_was_sent_wherever_it_is_put() {
        for sent in [
            r#"<x:p xmlns:x="urn:x" xml:lang="en" plain="1" x:own="2"><y>a &amp; &lt;b&gt;</y><x:z/></x:p>"#,
            r#"<bare xmlns="">text</bare>"#,
            r#"<D:href xmlns:D="DAV:">/dav/a b/</D:href>"#,
        ] {
            let element = parse_document(sent.as_bytes()).unwrap();
            let kept = property_xml(&element);
            assert_eq!(parse_document(kept.as_bytes()).unwrap(), element, "{kept}");
            // Inside an answer, under elements with their own prefixes, it reads the same.
            let body = multistatus(
                &[Response::Props {
                    href: "/dav/".into(),
                    propstats: vec![PropStat { status: 200, props: vec![Node::raw(element.name.clone(), kept)] }],
                }],
                None,
            );
            let root = parse_document(&body).unwrap();
            let prop = root.children[0].children[1].child(&Name::dav("prop")).unwrap();
            assert_eq!(prop.children[0], element);
        }
    }
}
