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
