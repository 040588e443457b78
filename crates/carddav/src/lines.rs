//! Content lines of a card's text, read without a vCard parser: what query filters
//! (`filter.rs`) and partial cards (`parts.rs`) both need.

/// The card's content lines, unfolded (a line starting with a space or tab continues the one
/// before it), without their line ends.
pub fn unfold(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        match (line.strip_prefix([' ', '\t']), lines.last_mut()) {
            (Some(rest), Some(last)) => last.push_str(rest),
            _ => lines.push(line.to_owned()),
        }
    }
    lines
}

pub use contacts_domain::contact::vcard::head_end;

/// A property name as a filter, a partial card or a content line writes it (`item1.EMAIL`),
/// upper-cased and split into its group and its name (`(Some("ITEM1"), "EMAIL")`).
pub fn group_and_name(full: &str) -> (Option<String>, String) {
    let full = full.trim().to_ascii_uppercase();
    match full.rsplit_once('.') {
        Some((group, name)) => (Some(group.to_owned()), name.to_owned()),
        None => (None, full),
    }
}

/// Whether a property in group `actual` answers to a name asking for group `wanted`: a name
/// without a group means the property in any group or none, one with a group only that group
/// (RFC 6352 10.4.2, 10.5.1).
pub fn in_group(wanted: Option<&str>, actual: Option<&str>) -> bool {
    wanted.is_none_or(|group| Some(group) == actual)
}
