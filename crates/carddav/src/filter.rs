//! `addressbook-query` filters (RFC 6352, 10.5) applied to a card's text.
//!
//! Only content lines are read (unfolded, group and parameters split, values unescaped): no
//! conversion, nothing kept. The backend hands over the cards; this decides which match, so the
//! rule is the same whatever storage does.

use contacts_domain::contact::vcard;

use crate::lines::{group_and_name, head_end, in_group, unfold};
use crate::xml::parse::{Collation, Filter, MatchType, ParamFilter, PropFilter, TextMatch};

/// One content line of a card.
#[derive(Debug, PartialEq, Eq)]
struct Property {
    /// Upper-case name without its group (`EMAIL` for `item1.EMAIL`).
    name: String,
    /// Its group, upper case (`ITEM1` for `item1.EMAIL`).
    group: Option<String>,
    /// Parameters: upper-case name and values (a comma list split).
    params: Vec<(String, Vec<String>)>,
    /// The value with `\n`, `\,`, `\;` and `\\` unescaped.
    value: String,
}

/// Splits at `sep` outside double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if c == '"' {
            quoted = !quoted;
        } else if c == sep && !quoted {
            parts.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    parts.push(&s[start..]);
    parts
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(other) => out.push(other),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn parse_line(line: &str) -> Option<Property> {
    let colon = head_end(line)?;
    let (head, value) = (&line[..colon], &line[colon + 1..]);
    let mut parts = split_unquoted(head, ';').into_iter();
    let name = parts.next()?;
    let (group, name) = group_and_name(name);
    let params: Vec<(String, Vec<String>)> = parts
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (
                k.trim().to_ascii_uppercase(),
                split_unquoted(v, ',').into_iter().map(|v| v.trim_matches('"').to_owned()).collect(),
            ),
            // vCard 2.1's bare `TYPE` values (`TEL;WORK:`).
            None => ("TYPE".to_owned(), vec![p.trim().to_owned()]),
        })
        .collect();
    let value = match quoted_printable(&params) {
        Some(charset) => unescape(&vcard::quoted_printable_text(value, charset)),
        None => unescape(value),
    };
    Some(Property { name, group, params, value })
}

/// Whether a property's value is written in quoted-printable (vCard 2.1's `ENCODING=QUOTED-PRINTABLE`,
/// or the bare `QUOTED-PRINTABLE`), and in which `CHARSET`: a filter compares the text it
/// stands for, the one REST shows, not its `=C3=BC` codes.
fn quoted_printable(params: &[(String, Vec<String>)]) -> Option<Option<&str>> {
    let is_qp = |(name, values): &&(String, Vec<String>)| {
        matches!(name.as_str(), "ENCODING" | "TYPE")
            && values.iter().any(|v| v.eq_ignore_ascii_case("QUOTED-PRINTABLE"))
    };
    params.iter().find(is_qp)?;
    let charset = params.iter().find(|(name, _)| name == "CHARSET").and_then(|(_, values)| values.first());
    Some(charset.map(String::as_str))
}

/// The card's content lines ([`unfold`]ed), with a quoted-printable value's soft line breaks (a
/// `=` at the end of the line) joined as well: its value goes on in the next line.
fn logical_lines(card: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut soft_break = false;
    for line in unfold(card) {
        match lines.last_mut() {
            Some(last) if soft_break => {
                last.pop();
                last.push_str(&line);
            }
            _ => lines.push(line),
        }
        let last = lines.last().map_or("", String::as_str);
        soft_break = last.ends_with('=') && last.to_ascii_uppercase().contains("QUOTED-PRINTABLE");
    }
    lines
}

fn properties(card: &str) -> Vec<Property> {
    logical_lines(card).iter().filter(|l| !l.trim().is_empty()).filter_map(|l| parse_line(l)).collect()
}

fn fold(text: &str, collation: Collation) -> String {
    match collation {
        Collation::Octet => text.to_owned(),
        Collation::AsciiCasemap => text.to_ascii_lowercase(),
        Collation::UnicodeCasemap => text.to_lowercase(),
    }
}

fn text_matches(condition: &TextMatch, value: &str) -> bool {
    let value = fold(value, condition.collation);
    let wanted = fold(&condition.text, condition.collation);
    let found = match condition.match_type {
        MatchType::Equals => value == wanted,
        MatchType::Contains => value.contains(&wanted),
        MatchType::StartsWith => value.starts_with(&wanted),
        MatchType::EndsWith => value.ends_with(&wanted),
    };
    found != condition.negate
}

fn param_matches(filter: &ParamFilter, instances: &[&Property]) -> bool {
    let values: Vec<&String> = instances
        .iter()
        .flat_map(|p| p.params.iter().filter(|(name, _)| *name == filter.name).flat_map(|(_, v)| v))
        .collect();
    let defined = instances.iter().any(|p| p.params.iter().any(|(name, _)| *name == filter.name));
    if filter.is_not_defined {
        return !defined;
    }
    match &filter.text_match {
        None => defined,
        Some(condition) => values.iter().any(|v| text_matches(condition, v)),
    }
}

fn prop_matches(filter: &PropFilter, props: &[Property]) -> bool {
    let instances: Vec<&Property> = props
        .iter()
        .filter(|p| p.name == filter.name && in_group(filter.group.as_deref(), p.group.as_deref()))
        .collect();
    if filter.is_not_defined {
        return instances.is_empty();
    }
    if instances.is_empty() {
        return false;
    }
    let mut results = filter
        .text_matches
        .iter()
        .map(|c| instances.iter().any(|p| text_matches(c, &p.value)))
        .chain(filter.param_filters.iter().map(|f| param_matches(f, &instances)))
        .peekable();
    if results.peek().is_none() {
        return true;
    }
    if filter.all_of { results.all(|r| r) } else { results.any(|r| r) }
}

/// Whether a card passes an `addressbook-query` filter (no prop-filter: every card does).
pub fn matches(filter: &Filter, card: &str) -> bool {
    if filter.prop_filters.is_empty() {
        return true;
    }
    let props = properties(card);
    let mut results = filter.prop_filters.iter().map(|f| prop_matches(f, &props));
    if filter.all_of { results.all(|r| r) } else { results.any(|r| r) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::parse::{Report, report};

    const ADA: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:ada-1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\n\
        item1.EMAIL;TYPE=INTERNET,WORK:ada@work.exa\r\n mple\r\nEMAIL;TYPE=home:ada@home.example\r\n\
        NOTE:line one\\nline\\, two\r\nEND:VCARD\r\n";
    const BOB: &str = "BEGIN:VCARD\nVERSION:4.0\nUID:bob-2\nFN:Bob Ünal\nTEL;TYPE=cell:+44 20 1234\nEND:VCARD\n";

    fn filter(inner: &str) -> Filter {
        let body = format!(
            r#"<C:addressbook-query xmlns:C="urn:ietf:params:xml:ns:carddav" xmlns:D="DAV:">
            <D:prop><D:getetag/></D:prop>{inner}</C:addressbook-query>"#
        );
        match report(body.as_bytes()).unwrap_or_else(|e| panic!("{e:?} in {body}")) {
            Report::Query { filter, .. } => filter,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn reads_folded_grouped_escaped_lines() {
        let props = properties(ADA);
        let email = props.iter().find(|p| p.name == "EMAIL").unwrap();
        assert_eq!(email.value, "ada@work.example");
        assert_eq!(email.params, vec![("TYPE".to_owned(), vec!["INTERNET".to_owned(), "WORK".to_owned()])]);
        assert_eq!(props.iter().find(|p| p.name == "NOTE").unwrap().value, "line one\nline, two");
    }

    #[test]
    fn text_match_types_and_collations() {
        let f =
            |inner: &str| filter(&format!("<C:filter><C:prop-filter name=\"FN\">{inner}</C:prop-filter></C:filter>"));
        assert!(matches(&f("<C:text-match>LOVE</C:text-match>"), ADA));
        assert!(!matches(&f("<C:text-match collation=\"i;octet\">LOVE</C:text-match>"), ADA));
        assert!(matches(&f("<C:text-match match-type=\"starts-with\">ada</C:text-match>"), ADA));
        assert!(!matches(&f("<C:text-match match-type=\"starts-with\">love</C:text-match>"), ADA));
        assert!(matches(&f("<C:text-match match-type=\"ends-with\">lace</C:text-match>"), ADA));
        assert!(matches(&f("<C:text-match match-type=\"equals\">ada lovelace</C:text-match>"), ADA));
        assert!(!matches(&f("<C:text-match match-type=\"equals\">ada</C:text-match>"), ADA));
        assert!(matches(&f("<C:text-match>ünal</C:text-match>"), BOB));
        assert!(!matches(&f("<C:text-match collation=\"i;ascii-casemap\">üNAL</C:text-match>"), BOB));
        assert!(!matches(&f("<C:text-match negate-condition=\"yes\">ada</C:text-match>"), ADA));
        assert!(matches(&f("<C:text-match negate-condition=\"yes\">ada</C:text-match>"), BOB));
    }

    #[test]
    fn anyof_allof_is_not_defined_and_params() {
        let email_or_tel = filter(
            r#"<C:filter><C:prop-filter name="EMAIL"><C:text-match>@home.</C:text-match></C:prop-filter>
               <C:prop-filter name="TEL"><C:text-match>1234</C:text-match></C:prop-filter></C:filter>"#,
        );
        assert!(matches(&email_or_tel, ADA) && matches(&email_or_tel, BOB));
        let both =
            filter(r#"<C:filter test="allof"><C:prop-filter name="EMAIL"/><C:prop-filter name="TEL"/></C:filter>"#);
        assert!(!matches(&both, ADA) && !matches(&both, BOB));
        let no_tel = filter(r#"<C:filter><C:prop-filter name="TEL"><C:is-not-defined/></C:prop-filter></C:filter>"#);
        assert!(matches(&no_tel, ADA) && !matches(&no_tel, BOB));
        let work = filter(
            r#"<C:filter><C:prop-filter name="EMAIL"><C:param-filter name="TYPE">
               <C:text-match match-type="equals">work</C:text-match></C:param-filter></C:prop-filter></C:filter>"#,
        );
        assert!(matches(&work, ADA) && !matches(&work, BOB));
        let uid = filter(
            r#"<C:filter><C:prop-filter name="UID">
               <C:text-match match-type="equals">bob-2</C:text-match></C:prop-filter></C:filter>"#,
        );
        assert!(!matches(&uid, ADA) && matches(&uid, BOB));
        let n_allof = filter(
            r#"<C:filter><C:prop-filter name="N" test="allof"><C:text-match>lovelace</C:text-match>
               <C:text-match>ada</C:text-match></C:prop-filter></C:filter>"#,
        );
        assert!(matches(&n_allof, ADA) && !matches(&n_allof, BOB));
        assert!(matches(&filter(""), ADA));
    }

    #[test]
    fn quoted_printable_values_match_as_the_text_they_stand_for() {
        // vCard 2.1 as Android and older phones export it: UTF-8 and Latin-1 codes, a soft break.
        let card = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n\
            FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=BCrgen =\r\nM=C3=BCller\r\n\
            EMAIL;QUOTED-PRINTABLE;CHARSET=ISO-8859-1:caf=E9@example.org\r\nTEL;CELL:=C3=BC\r\nEND:VCARD\r\n";
        let text = |name: &str, wanted: &str| {
            filter(&format!(
                r#"<C:filter><C:prop-filter name="{name}"><C:text-match match-type="equals">{wanted}</C:text-match></C:prop-filter></C:filter>"#
            ))
        };
        assert!(matches(&text("FN", "Jürgen Müller"), card));
        assert!(matches(&text("N", "Müller;Jürgen;;;"), card));
        assert!(matches(&text("EMAIL", "café@example.org"), card));
        assert!(!matches(&text("FN", "J=C3=BCrgen =M=C3=BCller"), card), "not the codes");
        assert!(matches(&text("TEL", "=C3=BC"), card), "a value not in quoted-printable is its text");
    }

    #[test]
    fn a_grouped_name_matches_only_that_group() {
        // RFC 6352 10.5.1: `ITEM1.EMAIL` is that group's EMAIL; `EMAIL` is every group's.
        let grouped = |name: &str, text: &str| {
            filter(&format!(
                r#"<C:filter><C:prop-filter name="{name}"><C:text-match>{text}</C:text-match></C:prop-filter></C:filter>"#
            ))
        };
        assert!(matches(&grouped("item1.EMAIL", "@work"), ADA));
        assert!(!matches(&grouped("ITEM1.EMAIL", "@home"), ADA), "the home address is in no group");
        assert!(!matches(&grouped("item2.EMAIL", "@work"), ADA));
        assert!(matches(&grouped("EMAIL", "@work"), ADA) && matches(&grouped("EMAIL", "@home"), ADA));
    }
}
