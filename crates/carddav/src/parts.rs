//! Partial cards: an `address-data` with `CARDDAV:prop` children (RFC 6352, 10.4.2) gets only
//! those properties of each card, so a client that needs names and emails is not sent every
//! photo. The card's own lines are copied (folding and case kept); `BEGIN`, `END` and
//! `VERSION` always stay, so the answer is still a vCard a parser takes (RFC 6350 6.7.9: every
//! vCard has a `VERSION`), even if it lacks what the client did not ask for.

use crate::lines::{group_and_name, head_end, in_group};
use crate::xml::parse::CardPart;

/// The part of `parts` a content line whose head is `head` answers to, if any.
fn wanted<'a>(head: &str, parts: &'a [CardPart]) -> Option<&'a CardPart> {
    let (group, name) = group_and_name(head.split(';').next().unwrap_or(head));
    parts.iter().find(|p| p.name == name && in_group(p.group.as_deref(), group.as_deref()))
}

/// `text` with only the content lines `parts` asks for (and `BEGIN`/`END`/`VERSION`); a line asked for
/// with `novalue` keeps its name and parameters and a trailing colon.
pub fn select(text: &str, parts: &[CardPart]) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    // Each content line as its physical lines (the first, then its folded continuations).
    let mut lines: Vec<Vec<&str>> = Vec::new();
    for physical in text.split_inclusive('\n') {
        match lines.last_mut() {
            Some(line) if physical.starts_with([' ', '\t']) => line.push(physical),
            _ => lines.push(vec![physical]),
        }
    }
    for physical in lines {
        let unfolded: String = physical
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let l = l.trim_end_matches(['\r', '\n']);
                if i == 0 { l } else { &l[1..] }
            })
            .collect();
        let Some(end) = head_end(&unfolded) else { continue };
        let head = &unfolded[..end];
        let structural = ["BEGIN", "END", "VERSION"].iter().any(|n| head.trim().eq_ignore_ascii_case(n));
        match wanted(head, parts) {
            _ if structural => physical.iter().for_each(|l| out.push_str(l)),
            Some(part) if part.novalue => {
                out.push_str(head);
                out.push_str(":\r\n");
            }
            Some(_) => physical.iter().for_each(|l| out.push_str(l)),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(group: Option<&str>, name: &str, novalue: bool) -> CardPart {
        CardPart { group: group.map(str::to_owned), name: name.to_owned(), novalue }
    }

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:u1\r\nFN:Ada Lovelace\r\n\
        item1.EMAIL;TYPE=INTERNET:ada@example.org\r\nEMAIL:ada@home.example\r\n\
        PHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\n BBBB\r\nNOTE;X-Q=\"a:b\":line\r\nEND:VCARD\r\n";

    #[test]
    fn only_the_properties_asked_for_are_kept_with_their_folding() {
        let parts = [part(None, "VERSION", false), part(None, "FN", false), part(None, "PHOTO", false)];
        assert_eq!(
            select(CARD, &parts),
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nPHOTO;ENCODING=b;TYPE=JPEG:AAAA\r\n BBBB\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn the_version_stays_whatever_is_asked_for() {
        assert_eq!(
            select(CARD, &[part(None, "FN", false)]),
            "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEND:VCARD\r\n"
        );
    }

    #[test]
    fn a_name_without_group_matches_every_group_and_one_with_a_group_only_it() {
        let any = select(CARD, &[part(None, "EMAIL", false)]);
        assert!(any.contains("item1.EMAIL") && any.contains("EMAIL:ada@home"), "{any}");
        let grouped = select(CARD, &[part(Some("ITEM1"), "EMAIL", false)]);
        assert!(grouped.contains("item1.EMAIL") && !grouped.contains("ada@home"), "{grouped}");
    }

    #[test]
    fn novalue_keeps_name_and_parameters() {
        let parts = [part(None, "PHOTO", true), part(None, "NOTE", true)];
        assert_eq!(
            select(CARD, &parts),
            "BEGIN:VCARD\r\nVERSION:3.0\r\nPHOTO;ENCODING=b;TYPE=JPEG:\r\nNOTE;X-Q=\"a:b\":\r\nEND:VCARD\r\n"
        );
    }
}
