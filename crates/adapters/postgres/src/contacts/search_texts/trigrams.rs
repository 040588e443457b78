//! A copied book's index by trigram: which contacts hold each run of three bytes inside one of
//! their fields, so that a needle of three bytes or more is checked against the few contacts
//! holding its rarest trigram instead of scanning the whole copy (on the bench's book of 50,000,
//! a name's search takes about a fifth of the scan's time).
//!
//! Each trigram's contacts are a list of ascending positions (in the copy's id order), stored as
//! the gaps between them in LEB128 varints: a name's trigrams recur across a book, so most gaps
//! take one byte, and the index weighs about half of what the copy's text does.

use std::collections::HashMap;

use super::{CONTACT_END, FIELD_END};

/// Which contacts hold each trigram of a copy.
#[derive(Debug, Default)]
pub(super) struct Trigrams {
    /// Every trigram the copy holds, ascending (three bytes, the first the highest).
    keys: Vec<u32>,
    /// Where each trigram's list ends in `lists`; it starts where the one before ends.
    ends: Vec<u32>,
    /// How many contacts each trigram's list holds.
    lens: Vec<u32>,
    /// Every list, one after another: for each contact holding the trigram, its position plus
    /// one less the previous one's (0 before the first), as a LEB128 varint.
    lists: Vec<u8>,
}

/// A trigram as a number, for sorting and searching.
fn key(window: &[u8]) -> u32 {
    u32::from(window[0]) << 16 | u32::from(window[1]) << 8 | u32::from(window[2])
}

/// Each contact's position with each trigram inside one of its fields, in order (a trigram
/// that recurs in one contact comes again).
fn contact_trigrams<'a>(text: &'a [u8], starts: &'a [u32]) -> impl Iterator<Item = (u32, u32)> + 'a {
    let ends = starts.iter().skip(1).map(|&end| end as usize).chain([text.len()]);
    starts.iter().zip(ends).zip(0u32..).flat_map(move |((&start, end), contact)| {
        text[start as usize..end]
            .windows(3)
            .filter(|window| !window.iter().any(|&b| b == FIELD_END || b == CONTACT_END))
            .map(move |window| (contact, key(window)))
    })
}

/// The bytes `n` takes as a LEB128 varint.
fn varint_len(n: u32) -> u32 {
    (32 - n.leading_zeros()).div_ceil(7).max(1)
}

/// Writes `n` as a LEB128 varint at the start of `out`; returns the bytes written.
fn write_varint(out: &mut [u8], mut n: u32) -> usize {
    let mut written = 0;
    while n >= 0x80 {
        out[written] = (n & 0x7f) as u8 | 0x80;
        n >>= 7;
        written += 1;
    }
    out[written] = n as u8;
    written + 1
}

/// One trigram's list while it is being built.
#[derive(Default)]
struct Building {
    /// The last contact counted or written, plus one (0 before the first).
    last: u32,
    /// Contacts in the list.
    len: u32,
    /// Bytes the list takes.
    bytes: u32,
    /// Where the list's next varint goes in `lists`.
    at: u32,
}

impl Trigrams {
    /// Indexes a copy's `text`, whose contacts start at `starts`. Two passes over the text, the
    /// first measuring each list and the second writing it in place, so nothing but the index
    /// and one small entry a distinct trigram is held meanwhile.
    pub(super) fn build(text: &[u8], starts: &[u32]) -> Self {
        let mut building: HashMap<u32, Building> = HashMap::new();
        for (contact, key) in contact_trigrams(text, starts) {
            let list = building.entry(key).or_default();
            if list.last == contact + 1 {
                continue;
            }
            list.bytes += varint_len(contact + 1 - list.last);
            list.len += 1;
            list.last = contact + 1;
        }
        let mut keys: Vec<u32> = building.keys().copied().collect();
        keys.sort_unstable();
        let (mut ends, mut lens) = (Vec::with_capacity(keys.len()), Vec::with_capacity(keys.len()));
        let mut end = 0;
        for key in &keys {
            let list = building.get_mut(key).expect("every key was counted");
            list.at = end;
            list.last = 0;
            end += list.bytes;
            ends.push(end);
            lens.push(list.len);
        }
        let mut lists = vec![0; end as usize];
        for (contact, key) in contact_trigrams(text, starts) {
            let list = building.get_mut(&key).expect("every key was counted");
            if list.last == contact + 1 {
                continue;
            }
            list.at += write_varint(&mut lists[list.at as usize..], contact + 1 - list.last) as u32;
            list.last = contact + 1;
        }
        Self { keys, ends, lens, lists }
    }

    /// What the index weighs, in bytes.
    pub(super) fn weight(&self) -> usize {
        (self.keys.len() + self.ends.len() + self.lens.len()) * 4 + self.lists.len()
    }

    /// The positions of the contacts holding the rarest trigram of `needle` (three bytes or
    /// more), ascending: those holding `needle` in one of their fields and maybe a few more, each
    /// to be checked. The needle's other trigrams are not read: its rarest alone leaves about a
    /// tenth more candidates than all of them together on the bench's book, and checking those
    /// costs less than reading the longer lists.
    pub(super) fn candidates(&self, needle: &[u8]) -> Vec<u32> {
        let mut rarest: Option<usize> = None;
        for window in needle.windows(3) {
            let Ok(list) = self.keys.binary_search(&key(window)) else { return Vec::new() };
            if rarest.is_none_or(|rarest| self.lens[list] < self.lens[rarest]) {
                rarest = Some(list);
            }
        }
        rarest.map(|list| self.list(list).collect()).unwrap_or_default()
    }

    /// The positions in one trigram's list, ascending.
    fn list(&self, list: usize) -> impl Iterator<Item = u32> + '_ {
        let start = if list == 0 { 0 } else { self.ends[list - 1] as usize };
        let mut bytes = self.lists[start..self.ends[list] as usize].iter();
        let mut last = 0u32;
        std::iter::from_fn(move || {
            let (mut gap, mut shift) = (0u32, 0);
            loop {
                let byte = *bytes.next()?;
                gap |= u32::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    break;
                }
                shift += 7;
            }
            last += gap;
            Some(last - 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_length() {
        for n in [1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, u32::MAX] {
            let mut out = [0; 5];
            let written = write_varint(&mut out, n);
            assert_eq!(written as u32, varint_len(n), "{n}");
            let index =
                Trigrams { keys: vec![0], ends: vec![written as u32], lens: vec![1], lists: out[..written].to_vec() };
            assert_eq!(index.list(0).collect::<Vec<_>>(), [n - 1], "{n}");
        }
    }

    #[test]
    fn a_trigram_lists_each_contact_holding_it_once_and_none_across_fields() {
        // Contacts "anna|annabel|" and "x|yanny|", separators as the copy writes them.
        let text = b"anna\x1fannabel\x1f\x1ex\x1fyanny\x1f\x1e";
        let index = Trigrams::build(text, &[0, 14]);
        assert_eq!(index.candidates(b"ann"), [0, 1]);
        assert_eq!(index.candidates(b"nna"), [0]);
        assert_eq!(index.candidates(b"annab"), [0]);
        assert_eq!(index.candidates(b"nny"), [1]);
        assert_eq!(index.candidates(b"aan"), Vec::<u32>::new(), "spans two fields");
        assert_eq!(index.candidates(b"zzz"), Vec::<u32>::new());
        // Each trigram of a contact is written once: "ann" twice in the first contact.
        assert_eq!(index.lens[index.keys.binary_search(&key(b"ann")).unwrap()], 2);
    }

    #[test]
    fn gaps_past_one_byte_are_read_back() {
        let mut text = Vec::new();
        let mut starts = Vec::new();
        for contact in 0..70_000u32 {
            starts.push(text.len() as u32);
            text.extend_from_slice(if contact % 20_000 == 7 { b"rare\x1e" } else { b"common\x1e" });
        }
        let index = Trigrams::build(&text, &starts);
        assert_eq!(index.candidates(b"rar"), [7, 20_007, 40_007, 60_007]);
        assert_eq!(index.candidates(b"mmo").len(), 70_000 - 4);
    }
}
