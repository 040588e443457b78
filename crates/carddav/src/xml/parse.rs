//! Request bodies: a small namespace-resolved tree read with quick-xml, then the WebDAV
//! requests built from it.
//!
//! A `<!DOCTYPE>` is refused outright, so no entity (internal, external, recursive) is ever
//! declared or resolved; only XML's five predefined entities and character references are read.

use std::borrow::Cow;

use quick_xml::NsReader;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;

use super::Name;
use crate::backend::{TextWanted, VcardVersion};
use crate::lines::group_and_name;

/// Deepest element nesting accepted; WebDAV bodies are shallow.
const MAX_DEPTH: usize = 64;

/// Why a body could not be read as the request it should be.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed XML, not UTF-8, or an unknown prefix or entity.
    #[error("malformed XML: {0}")]
    Malformed(String),
    /// The body declares a document type (entities are never resolved).
    #[error("DOCTYPE is not allowed")]
    Doctype,
    /// Well-formed, but not the element this request needs.
    #[error("unexpected XML: {0}")]
    Unexpected(String),
    /// A `text-match` collation the server does not implement (`CARDDAV:supported-collation`).
    #[error("unsupported collation {0}")]
    UnsupportedCollation(String),
    /// An `address-data` type or version the server does not serve
    /// (`CARDDAV:supported-address-data`).
    #[error("unsupported address data")]
    UnsupportedAddressData,
    /// A `prop-filter` on a property the server cannot filter on (`CARDDAV:supported-filter`).
    #[error("unsupported filter on {0}")]
    UnsupportedFilter(String),
}

fn malformed(e: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(e.to_string())
}

/// One element of a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Its resolved name.
    pub name: Name,
    /// Its attributes (`xmlns` declarations left out), names resolved.
    pub attrs: Vec<(Name, String)>,
    /// Its child elements, in order.
    pub children: Vec<Element>,
    /// Its text content (all text children concatenated, references resolved).
    pub text: String,
}

impl Element {
    /// The first child with this name.
    pub fn child(&self, name: &Name) -> Option<&Element> {
        self.children.iter().find(|c| &c.name == name)
    }

    /// An attribute without namespace.
    pub fn attr(&self, local: &str) -> Option<&str> {
        self.attrs.iter().find(|(n, _)| n.ns.is_empty() && n.local == local).map(|(_, v)| v.as_str())
    }
}

fn resolved_ns(result: ResolveResult<'_>) -> Result<String, XmlError> {
    match result {
        ResolveResult::Bound(ns) => Ok(ns.0.to_owned()),
        ResolveResult::Unbound => Ok(String::new()),
        ResolveResult::Unknown(prefix) => Err(XmlError::Malformed(format!("unknown prefix {prefix}"))),
    }
}

/// Reads a whole body into its root element.
pub fn parse_document(body: &[u8]) -> Result<Element, XmlError> {
    let text = std::str::from_utf8(body).map_err(malformed)?;
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let (ns, event) = reader.read_resolved_event().map_err(malformed)?;
        let ns = match &event {
            Event::Start(_) | Event::Empty(_) => Some(resolved_ns(ns)?),
            _ => None,
        };
        match event {
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::Start(ref start) | Event::Empty(ref start) => {
                if root.is_some() {
                    return Err(XmlError::Malformed("more than one root element".into()));
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::Malformed("nested too deeply".into()));
                }
                let qualified = start.name().into_inner();
                if !super::is_qualified_name(qualified) {
                    return Err(XmlError::Malformed("a tag whose name is not an XML name".into()));
                }
                let local = start.local_name().into_inner().to_owned();
                let mut attrs = Vec::new();
                for attr in start.attributes() {
                    let attr = attr.map_err(malformed)?;
                    let key = attr.key;
                    if key.as_ref() == "xmlns" || key.as_ref().starts_with("xmlns:") {
                        continue;
                    }
                    let (attr_ns, attr_local) = reader.resolver().resolve_attribute(key);
                    let attr_ns = resolved_ns(attr_ns)?;
                    let value = attr.normalized_value(XmlVersion::Implicit1_0).map_err(malformed)?;
                    attrs.push((Name::owned(attr_ns, attr_local.into_inner()), value.into_owned()));
                }
                let element = Element {
                    name: Name::owned(ns.unwrap_or_default(), local),
                    attrs,
                    children: Vec::new(),
                    text: String::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    close(&mut stack, &mut root, element);
                } else {
                    stack.push(element);
                }
            }
            Event::End(_) => {
                let element = stack.pop().ok_or_else(|| XmlError::Malformed("unmatched end tag".into()))?;
                close(&mut stack, &mut root, element);
            }
            Event::Text(text) => {
                let content = allowed(text.xml10_content())?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(XmlError::Malformed("text outside the root element".into())),
                }
            }
            Event::CData(data) => {
                let content = allowed(data.xml10_content())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&content);
                }
            }
            Event::GeneralRef(reference) => {
                let resolved: String = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(c) => allowed(Cow::Owned(c.to_string()))?.into_owned(),
                    None => resolve_predefined_entity(&reference.xml10_content())
                        .ok_or_else(|| XmlError::Malformed("undeclared entity".into()))?
                        .to_owned(),
                };
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&resolved),
                    None => return Err(XmlError::Malformed("reference outside the root element".into())),
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".into()));
    }
    root.ok_or_else(|| XmlError::Malformed("no root element".into()))
}

/// `text`, unless it holds a character XML 1.0 does not allow (`&#x1b;` among them): such a
/// document is not well-formed, and a display name holding one would break every later listing.
fn allowed(text: Cow<'_, str>) -> Result<Cow<'_, str>, XmlError> {
    match text.chars().all(super::is_xml_char) {
        true => Ok(text),
        false => Err(XmlError::Malformed("a character XML does not allow".into())),
    }
}

fn close(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
}

fn expect_root(body: &[u8], name: &Name) -> Result<Element, XmlError> {
    let root = parse_document(body)?;
    if &root.name != name {
        return Err(XmlError::Unexpected(format!("expected {name:?}, got {:?}", root.name)));
    }
    Ok(root)
}

/// What a `PROPFIND` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Propfind {
    /// Every property the resource has (also an empty body), and the live properties named in
    /// `include` that `allprop` leaves out (RFC 4918 14.8).
    AllProp(Vec<Name>),
    /// The names of every property the resource has.
    PropName,
    /// These properties.
    Prop(Vec<Name>),
}

/// Reads a `PROPFIND` body; an empty one means `allprop` (RFC 4918, 9.1).
pub fn propfind(body: &[u8]) -> Result<Propfind, XmlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Propfind::AllProp(Vec::new()));
    }
    let root = expect_root(body, &Name::dav("propfind"))?;
    for child in &root.children {
        if child.name.is_dav("allprop") {
            let include = root.child(&Name::dav("include")).map(|i| i.children.iter().map(|p| p.name.clone()));
            return Ok(Propfind::AllProp(include.into_iter().flatten().collect()));
        }
        if child.name.is_dav("propname") {
            return Ok(Propfind::PropName);
        }
        if child.name.is_dav("prop") {
            return Ok(Propfind::Prop(child.children.iter().map(|p| p.name.clone()).collect()));
        }
    }
    Err(XmlError::Unexpected("propfind without prop, allprop or propname".into()))
}

/// One instruction of a `PROPPATCH`, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PropUpdate {
    /// Set a property: its whole element, so a value made of elements (an href) can be kept.
    Set(Element),
    /// Remove a property.
    Remove(Name),
}

impl PropUpdate {
    /// The name of the property it changes.
    pub fn name(&self) -> &Name {
        match self {
            Self::Set(element) => &element.name,
            Self::Remove(name) => name,
        }
    }
}

/// Reads a `PROPPATCH` body (`propertyupdate` of `set` and `remove`).
pub fn proppatch(body: &[u8]) -> Result<Vec<PropUpdate>, XmlError> {
    let root = expect_root(body, &Name::dav("propertyupdate"))?;
    let mut updates = Vec::new();
    for op in root.children {
        let set = op.name.is_dav("set");
        if !set && !op.name.is_dav("remove") {
            continue;
        }
        for prop in op.children.into_iter().filter(|c| c.name.is_dav("prop")) {
            for p in prop.children {
                updates.push(if set { PropUpdate::Set(p) } else { PropUpdate::Remove(p.name) });
            }
        }
    }
    Ok(updates)
}

/// An extended `MKCOL` (RFC 5689).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mkcol {
    /// The resource types asked for (`collection`, `addressbook`…); empty without a body.
    pub resourcetype: Vec<Name>,
    /// The display name to give the new book.
    pub displayname: Option<String>,
    /// The description to give it (`addressbook-description`).
    pub description: Option<String>,
    /// Every other property to set, whole.
    pub others: Vec<Element>,
}

/// Reads an extended `MKCOL` body; an empty body is a plain `MKCOL`.
pub fn mkcol(body: &[u8]) -> Result<Mkcol, XmlError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Mkcol::default());
    }
    let root = expect_root(body, &Name::dav("mkcol"))?;
    let mut request = Mkcol::default();
    for set in root.children.iter().filter(|c| c.name.is_dav("set")) {
        for prop in set.children.iter().filter(|c| c.name.is_dav("prop")) {
            for p in &prop.children {
                if p.name.is_dav("resourcetype") {
                    request.resourcetype.extend(p.children.iter().map(|c| c.name.clone()));
                } else if p.name.is_dav("displayname") {
                    request.displayname = Some(p.text.clone());
                } else if p.name.is_carddav("addressbook-description") {
                    request.description = Some(p.text.clone());
                } else {
                    request.others.push(p.clone());
                }
            }
        }
    }
    Ok(request)
}

/// The `address-data` a report asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressData {
    /// The version asked for; `None`: as stored.
    pub version: Option<VcardVersion>,
    /// The card's properties asked for (`CARDDAV:prop` children); `None`: the whole card (no
    /// `prop` child, or `CARDDAV:allprop`).
    pub parts: Option<Vec<CardPart>>,
}

/// One vCard property an `address-data` asks for (RFC 6352, 10.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardPart {
    /// The group the name gives (`ITEM1` of `item1.EMAIL`), upper-cased: then only that group's
    /// property is meant; without one, the property in any group or none.
    pub group: Option<String>,
    /// The property's name, upper-cased.
    pub name: String,
    /// `novalue="yes"`: the property's name and parameters without its value.
    pub novalue: bool,
}

/// The `CARDDAV:prop` children of an `address-data` element, `None` when it asks for the whole
/// card.
fn card_parts(address_data: &Element) -> Option<Vec<CardPart>> {
    if address_data.child(&Name::carddav("allprop")).is_some() {
        return None;
    }
    let parts: Vec<CardPart> = address_data
        .children
        .iter()
        .filter(|c| c.name.is_carddav("prop"))
        .filter_map(|c| {
            let (group, name) = group_and_name(c.attr("name")?);
            Some(CardPart { group, name, novalue: yes_no(c, "novalue") })
        })
        .collect();
    (!parts.is_empty()).then_some(parts)
}

/// The properties a report asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportProps {
    /// Every property name asked for, `address-data` included, in order.
    pub names: Vec<Name>,
    /// The `address-data` request, when there is one.
    pub address_data: Option<AddressData>,
}

impl ReportProps {
    /// The text to read for each card: none without `address-data`, else in the version it
    /// names (as stored without one).
    pub fn text_wanted(&self) -> TextWanted {
        match &self.address_data {
            None => TextWanted::No,
            Some(data) => data.version.map_or(TextWanted::AsStored, TextWanted::Version),
        }
    }

    /// The card properties to send when `address-data` asks for only some.
    pub fn parts(&self) -> Option<Vec<CardPart>> {
        self.address_data.as_ref().and_then(|data| data.parts.clone())
    }
}

/// How a `text-match` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collation {
    /// `i;octet`: byte for byte.
    Octet,
    /// `i;ascii-casemap`: ASCII letters ignore case.
    AsciiCasemap,
    /// `i;unicode-casemap` (the default): every letter ignores case.
    UnicodeCasemap,
}

/// Where a `text-match` looks for its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchType {
    /// The whole value.
    Equals,
    /// Anywhere (the default).
    Contains,
    /// At the start.
    StartsWith,
    /// At the end.
    EndsWith,
}

/// A `text-match` of `addressbook-query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextMatch {
    /// The text looked for.
    pub text: String,
    /// How characters compare.
    pub collation: Collation,
    /// Where in the value.
    pub match_type: MatchType,
    /// `negate-condition="yes"`.
    pub negate: bool,
}

/// A `param-filter` of `addressbook-query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamFilter {
    /// The parameter's name, upper case.
    pub name: String,
    /// `is-not-defined`: matches when the property lacks the parameter.
    pub is_not_defined: bool,
    /// A condition on the parameter's values.
    pub text_match: Option<TextMatch>,
}

/// A `prop-filter` of `addressbook-query`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PropFilter {
    /// The vCard property's name, upper case (`FN`, `EMAIL`…).
    pub name: String,
    /// The group the filter's name gives (`ITEM1` of `item1.EMAIL`), upper case: then only
    /// that group's property matches (RFC 6352 10.5.1); without one, any group or none.
    pub group: Option<String>,
    /// `test="allof"` (else any of the conditions is enough).
    pub all_of: bool,
    /// `is-not-defined`: matches cards without the property.
    pub is_not_defined: bool,
    /// Conditions on the property's values.
    pub text_matches: Vec<TextMatch>,
    /// Conditions on the property's parameters.
    pub param_filters: Vec<ParamFilter>,
}

/// The `filter` of `addressbook-query`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// `test="allof"` (else any prop-filter is enough).
    pub all_of: bool,
    /// The property filters; none matches every card.
    pub prop_filters: Vec<PropFilter>,
}

/// Properties `addressbook-query` filters on (API.md); others are `CARDDAV:supported-filter`.
pub const FILTERABLE: [&str; 5] = ["FN", "N", "EMAIL", "TEL", "UID"];

/// A `REPORT` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// `addressbook-multiget`: these hrefs.
    Multiget {
        /// The properties wanted.
        props: ReportProps,
        /// The hrefs asked for, as sent.
        hrefs: Vec<String>,
    },
    /// `addressbook-query`: the cards that pass the filter.
    Query {
        /// The properties wanted.
        props: ReportProps,
        /// The filter.
        filter: Filter,
        /// `limit/nresults`.
        limit: Option<usize>,
    },
    /// `sync-collection` (RFC 6578).
    SyncCollection {
        /// The token sent, `None` when empty (an initial sync).
        token: Option<String>,
        /// The properties wanted.
        props: ReportProps,
        /// `limit/nresults`.
        limit: Option<usize>,
    },
    /// A report answered with an empty multistatus (`expand-property` and the principal
    /// searches: InfCloud asks for them and gives up on an error).
    Empty,
    /// Any other report (`DAV:supported-report`).
    Unsupported(Name),
}

fn report_props(root: &Element) -> Result<ReportProps, XmlError> {
    let mut props = ReportProps::default();
    if let Some(prop) = root.child(&Name::dav("prop")) {
        for p in &prop.children {
            if p.name.is_carddav("address-data") {
                let content_type = p.attr("content-type").unwrap_or("text/vcard");
                if !content_type.eq_ignore_ascii_case("text/vcard") {
                    return Err(XmlError::UnsupportedAddressData);
                }
                let version = match p.attr("version") {
                    None => None,
                    Some(v) => Some(VcardVersion::parse(v).ok_or(XmlError::UnsupportedAddressData)?),
                };
                props.address_data = Some(AddressData { version, parts: card_parts(p) });
            }
            props.names.push(p.name.clone());
        }
    }
    Ok(props)
}

fn limit(root: &Element, ns_carddav: bool) -> Result<Option<usize>, XmlError> {
    let limit_name = if ns_carddav { Name::carddav("limit") } else { Name::dav("limit") };
    let nresults_name = if ns_carddav { Name::carddav("nresults") } else { Name::dav("nresults") };
    let Some(limit) = root.child(&limit_name) else { return Ok(None) };
    let nresults = limit.child(&nresults_name).ok_or_else(|| XmlError::Unexpected("limit without nresults".into()))?;
    // A positive number (RFC 5323 5.17): a limit of none would answer nothing, not even the
    // token a sync needs.
    let positive = nresults.text.trim().parse::<usize>().ok().filter(|n| *n > 0);
    positive.map(Some).ok_or_else(|| XmlError::Unexpected("nresults is not a positive number".into()))
}

fn yes_no(element: &Element, attr: &str) -> bool {
    element.attr(attr).is_some_and(|v| v.trim() == "yes")
}

fn all_of(element: &Element) -> Result<bool, XmlError> {
    match element.attr("test").map(str::trim) {
        None | Some("anyof") => Ok(false),
        Some("allof") => Ok(true),
        Some(other) => Err(XmlError::Unexpected(format!("test=\"{other}\""))),
    }
}

fn text_match(element: &Element) -> Result<TextMatch, XmlError> {
    let collation = match element.attr("collation").map(str::trim) {
        None | Some("i;unicode-casemap") => Collation::UnicodeCasemap,
        Some("i;ascii-casemap") => Collation::AsciiCasemap,
        Some("i;octet") => Collation::Octet,
        Some(other) => return Err(XmlError::UnsupportedCollation(other.to_owned())),
    };
    let match_type = match element.attr("match-type").map(str::trim) {
        None | Some("contains") => MatchType::Contains,
        Some("equals") => MatchType::Equals,
        Some("starts-with") => MatchType::StartsWith,
        Some("ends-with") => MatchType::EndsWith,
        Some(other) => return Err(XmlError::Unexpected(format!("match-type=\"{other}\""))),
    };
    Ok(TextMatch { text: element.text.clone(), collation, match_type, negate: yes_no(element, "negate-condition") })
}

fn prop_filter(element: &Element) -> Result<PropFilter, XmlError> {
    let (group, name) = group_and_name(element.attr("name").unwrap_or_default());
    if !FILTERABLE.contains(&name.as_str()) {
        return Err(XmlError::UnsupportedFilter(group.map_or_else(|| name.clone(), |g| format!("{g}.{name}"))));
    }
    let mut filter = PropFilter {
        name,
        group,
        all_of: all_of(element)?,
        is_not_defined: false,
        text_matches: Vec::new(),
        param_filters: Vec::new(),
    };
    for child in &element.children {
        if child.name.is_carddav("is-not-defined") {
            filter.is_not_defined = true;
        } else if child.name.is_carddav("text-match") {
            filter.text_matches.push(text_match(child)?);
        } else if child.name.is_carddav("param-filter") {
            let mut param = ParamFilter {
                name: child.attr("name").unwrap_or_default().trim().to_ascii_uppercase(),
                is_not_defined: false,
                text_match: None,
            };
            for grandchild in &child.children {
                if grandchild.name.is_carddav("is-not-defined") {
                    param.is_not_defined = true;
                } else if grandchild.name.is_carddav("text-match") {
                    param.text_match = Some(text_match(grandchild)?);
                }
            }
            filter.param_filters.push(param);
        }
    }
    Ok(filter)
}

/// Reads a `REPORT` body.
pub fn report(body: &[u8]) -> Result<Report, XmlError> {
    let root = parse_document(body)?;
    let name = &root.name;
    if name.is_carddav("addressbook-multiget") {
        let hrefs = root.children.iter().filter(|c| c.name.is_dav("href")).map(|c| c.text.trim().to_owned()).collect();
        return Ok(Report::Multiget { props: report_props(&root)?, hrefs });
    }
    if name.is_carddav("addressbook-query") {
        let mut filter = Filter::default();
        if let Some(f) = root.child(&Name::carddav("filter")) {
            filter.all_of = all_of(f)?;
            for pf in f.children.iter().filter(|c| c.name.is_carddav("prop-filter")) {
                filter.prop_filters.push(prop_filter(pf)?);
            }
        }
        return Ok(Report::Query { props: report_props(&root)?, filter, limit: limit(&root, true)? });
    }
    if name.is_dav("sync-collection") {
        let token = root.child(&Name::dav("sync-token")).map(|t| t.text.trim().to_owned()).filter(|t| !t.is_empty());
        let level = root.child(&Name::dav("sync-level")).map(|l| l.text.trim());
        if level.is_some_and(|l| !matches!(l, "1" | "infinite" | "infinity")) {
            return Err(XmlError::Unexpected("sync-level must be 1 or infinite".into()));
        }
        return Ok(Report::SyncCollection { token, props: report_props(&root)?, limit: limit(&root, false)? });
    }
    if name.is_dav("expand-property")
        || name.is_dav("principal-search-property-set")
        || name.is_dav("principal-property-search")
    {
        return Ok(Report::Empty);
    }
    Ok(Report::Unsupported(root.name))
}

#[cfg(test)]
mod tests;
