//! Contacts as vCards: reading cards (2.1, 3.0, 4.0) into the part REST shows, writing REST's
//! changes back into a stored card, and rendering a card as 3.0 or 4.0 (`convert`).
//!
//! Parsing values is left to `calcard` (folding, quoted-printable, `CHARSET`, escapes); the
//! card's text itself is handled line by line here, because calcard re-serialises parameters:
//! the lines REST does not map must leave exactly as they came in.

use calcard::common::IanaString;
use calcard::vcard::{
    VCard, VCardEntry, VCardParameterName, VCardParameterValue, VCardProperty, VCardValue, VCardVersion,
};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sha2::{Digest, Sha256};

use super::birthdays::MonthDay;
use super::models::{CardRecord, Contact, TypedValue};

/// The largest single card accepted (import, and CardDAV's `max-resource-size`).
pub const MAX_CARD_BYTES: usize = 1024 * 1024;

/// The year Apple writes for a birthday without one (with `X-APPLE-OMIT-YEAR=1604`).
const OMITTED_YEAR: u16 = 1604;

/// A birthday as a card holds it: a full date, or a month and day only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardBirthday {
    /// A complete date.
    Date(NaiveDate),
    /// A birthday without a year (`--MMDD`, or Apple's `1604-MM-DD`).
    YearLess(MonthDay),
}

impl CardBirthday {
    /// The month and day the birthday is celebrated on.
    pub fn month_day(self) -> MonthDay {
        match self {
            Self::Date(date) => MonthDay::of(date),
            Self::YearLess(md) => md,
        }
    }

    /// The full date, if the card gave a year.
    pub fn date(self) -> Option<NaiveDate> {
        match self {
            Self::Date(date) => Some(date),
            Self::YearLess(_) => None,
        }
    }
}

/// What REST shows of a card: the mapped properties, decoded.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CardView {
    /// `UID`, if the card has one.
    pub uid: Option<String>,
    /// Given name (`N`), or `FN` before its last space.
    pub first_name: String,
    /// Family name (`N`), or `FN` after its last space.
    pub last_name: String,
    /// Every `EMAIL`, in order, with its `TYPE`.
    pub emails: Vec<TypedValue>,
    /// Every `TEL`, in order, with its `TYPE`.
    pub phones: Vec<TypedValue>,
    /// `BDAY`, when it is a date (with or without year).
    pub birthday: Option<CardBirthday>,
    /// The first `NOTE`.
    pub note: Option<String>,
}

/// Why a card cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    /// More than [`MAX_CARD_BYTES`].
    #[error("Card is larger than 1 MiB")]
    TooLarge,
    /// Not a vCard calcard could read.
    #[error("Not a valid vCard: {0}")]
    Invalid(String),
    /// Neither `N` nor `FN` gives a name.
    #[error("Card has no name (N or FN)")]
    NoName,
    /// A version other than those a stored resource may have (see [`resource_version`]).
    #[error("Card is not vCard 3.0 or 4.0")]
    UnsupportedVersion,
}

/// A vCard version a card can be rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    /// RFC 2426.
    V3,
    /// RFC 6350.
    #[default]
    V4,
}

impl Version {
    /// `"3.0"` or `"4.0"`; anything else is `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "3.0" => Some(Self::V3),
            "4.0" => Some(Self::V4),
            _ => None,
        }
    }
}

/// An import file's text. A byte-order mark is dropped, and one of UTF-16 (some Windows
/// exporters write it) decodes the file. vCard folds lines at 75 octets, and some writers fold
/// inside a multi-byte character: a file that is not UTF-8 as sent is unfolded first (a fold is
/// a line break and one space or tab), which mends those characters, and a line still not UTF-8
/// is read as Windows-1252, the 8-bit text of older exporters that name no charset (Latin-1's
/// letters included). A file that is UTF-8 is kept exactly as sent.
pub fn file_text(mut bytes: Vec<u8>) -> String {
    if let Some((encoding, mark)) = encoding_rs::Encoding::for_bom(&bytes) {
        if encoding != encoding_rs::UTF_8 {
            return encoding.decode_without_bom_handling(&bytes[mark..]).0.into_owned();
        }
        bytes.drain(..mark);
    }
    String::from_utf8(bytes).unwrap_or_else(|sent| {
        let unfolded = unfold_bytes(sent.as_bytes());
        String::from_utf8(unfolded).unwrap_or_else(|still| eight_bit_lines(still.as_bytes()))
    })
}

/// Each line as UTF-8 if it is, else as Windows-1252: so the UTF-8 lines of a file with a few
/// 8-bit ones stay as they are.
fn eight_bit_lines(bytes: &[u8]) -> String {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .map(|line| match std::str::from_utf8(line) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => encoding_rs::WINDOWS_1252.decode_without_bom_handling(line).0,
        })
        .collect()
}

/// `bytes` without their folds.
fn unfold_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at..] {
            [b'\r', b'\n', b' ' | b'\t', ..] => at += 3,
            [b'\n', b' ' | b'\t', ..] => at += 2,
            _ => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    out
}

/// The cards of an import file, each as its exact text; `None` when there is no `BEGIN:VCARD`
/// at all. A card without its `END:VCARD` runs to the end of the input.
pub fn split_cards(input: &str) -> Option<Vec<&str>> {
    let mut cards = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in input.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']).trim();
        if content.eq_ignore_ascii_case("BEGIN:VCARD") {
            if let Some(begin) = start {
                // A card that never ended: it is one (broken) card up to here.
                cards.push(&input[begin..offset]);
            }
            start = Some(offset);
        } else if content.eq_ignore_ascii_case("END:VCARD")
            && let Some(begin) = start.take()
        {
            cards.push(&input[begin..offset + line.len()]);
        }
        offset += line.len();
    }
    if let Some(begin) = start {
        cards.push(&input[begin..]);
    }
    if cards.is_empty() { None } else { Some(cards) }
}

/// Longest `UID` an arriving card may have, in bytes. Real ones are UUIDs or URLs of well under
/// a hundred; the bound keeps a card's UID within what the store's unique index of UIDs can hold
/// (PostgreSQL refuses an entry past about 2.7 KB), so such a card is refused as invalid, with
/// its reason, instead of failing in the database.
pub const MAX_UID_BYTES: usize = 1024;

/// Reads one card of an import (or a `PUT`) into what is stored: its text, with a `UID` line
/// added when it had none, and its mapped properties. The card must end with its `END:VCARD`
/// (a truncated card, or one with lines after its end, would be stored and served broken).
pub fn record(text: &str) -> Result<CardRecord, CardError> {
    let last = text.trim_end().rsplit('\n').next().unwrap_or_default().trim();
    if !last.eq_ignore_ascii_case("END:VCARD") {
        return Err(CardError::Invalid("the card does not end with END:VCARD".to_owned()));
    }
    let view = read(text, Arriving::Refused)?;
    if view.uid.as_ref().is_some_and(|uid| uid.len() > MAX_UID_BYTES) {
        return Err(CardError::Invalid(format!("the UID is longer than {MAX_UID_BYTES} bytes")));
    }
    if let Some(uid) = &view.uid {
        return Ok(CardRecord { uid: uid.clone(), card: text.to_owned(), view, uid_added: false });
    }
    let uid = fresh_uid(text);
    let end = text.to_ascii_uppercase().rfind("END:VCARD").unwrap_or(text.len());
    let card = format!("{}UID:{uid}\r\n{}", &text[..end], &text[end..]);
    Ok(CardRecord { uid: uid.clone(), card, view: CardView { uid: Some(uid), ..view }, uid_added: true })
}

/// A new UID for a card that came without one, in the form of a random (version 4) UUID. A
/// card without a UID is a card of its own whatever its text: importing the same file twice,
/// or two alike cards in one file, creates each (the contract's "any other is created"), and
/// two `PUT`s of one text under two names are two cards, not a UID conflict. Should the
/// system's random source fail, the text's digest stands in.
fn fresh_uid(text: &str) -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        bytes.copy_from_slice(&Sha256::digest(text.as_bytes())[..16]);
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Reads one card's mapped properties.
pub fn read_card(text: &str) -> Result<CardView, CardError> {
    read(text, Arriving::Kept)
}

/// What [`read`] does with a control character in a card: an arriving card (import, `PUT`)
/// is refused for one; a stored card is read as it is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Arriving {
    Refused,
    Kept,
}

fn read(text: &str, controls: Arriving) -> Result<CardView, CardError> {
    if text.len() > MAX_CARD_BYTES {
        return Err(CardError::TooLarge);
    }
    if text.contains('\0') {
        return Err(CardError::Invalid("NUL characters are not allowed".to_owned()));
    }
    let card = parse(text)?;
    // Neither in the text nor in a value decoded from it (quoted-printable `=0B`): vCard allows
    // no control character but the tab, REST refuses them in every field, and CardDAV could not
    // send such a value to any client (XML has no way to write most of them).
    let refused = controls == Arriving::Refused
        && (text.chars().any(unwritable)
            || card.entries.iter().any(|entry| components(entry).iter().any(|v| v.chars().any(unwritable))));
    if refused {
        return Err(CardError::Invalid("control characters are not allowed".to_owned()));
    }
    let mut view = CardView { uid: card.uid().map(str::to_owned).filter(|u| !u.is_empty()), ..CardView::default() };
    let mut full_name = None;
    for entry in &card.entries {
        match entry.name {
            VCardProperty::N if view.first_name.is_empty() && view.last_name.is_empty() => {
                let parts = components(entry);
                view.last_name = parts.first().cloned().unwrap_or_default();
                view.first_name = parts.get(1).cloned().unwrap_or_default();
            }
            VCardProperty::Fn if full_name.is_none() => full_name = text_of(entry),
            VCardProperty::Email => {
                if let Some(value) = text_of(entry) {
                    view.emails.push(TypedValue { value, kind: type_of(entry) });
                }
            }
            VCardProperty::Tel => {
                if let Some(value) = text_of(entry) {
                    view.phones.push(TypedValue { value: phone_number(value), kind: type_of(entry) });
                }
            }
            VCardProperty::Bday if view.birthday.is_none() => {
                view.birthday = birthday_of(entry, written_birthday(text).as_deref());
            }
            VCardProperty::Note if view.note.is_none() => view.note = text_of(entry),
            _ => {}
        }
    }
    if view.first_name.is_empty() && view.last_name.is_empty() {
        let full_name = full_name.map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()).ok_or(CardError::NoName)?;
        match full_name.rsplit_once(' ') {
            Some((first, last)) => {
                view.first_name = first.trim().to_owned();
                view.last_name = last.to_owned();
            }
            None => view.first_name = full_name,
        }
    }
    Ok(view)
}

/// A control character (Unicode category Cc) other than the tab and the line breaks a card's
/// lines and its multi-line values are made of.
fn unwritable(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\r' | '\n')
}

fn parse(text: &str) -> Result<VCard, CardError> {
    VCard::parse(text).map_err(|entry| {
        CardError::Invalid(match entry {
            calcard::Entry::InvalidLine(line) => format!("invalid line {:?}", truncate(&line, 80)),
            calcard::Entry::UnterminatedComponent(_) => "missing END:VCARD".to_owned(),
            calcard::Entry::Eof => "empty card".to_owned(),
            _ => "not a vCard".to_owned(),
        })
    })
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

fn components(entry: &VCardEntry) -> Vec<String> {
    entry
        .values
        .iter()
        .map(|v| match v {
            VCardValue::Text(t) => t.clone(),
            VCardValue::Component(parts) => parts.join(" "),
            other => other.as_text().unwrap_or_default().to_owned(),
        })
        .collect()
}

fn text_of(entry: &VCardEntry) -> Option<String> {
    let text = components(entry).join(" ");
    let text = text.trim();
    if text.is_empty() { None } else { Some(text.to_owned()) }
}

/// A `TEL` value as the number it holds: a `tel:` URI (`TEL;VALUE=uri:tel:+1-555-0100`, the
/// form RFC 6350 recommends in 4.0) without its scheme, as a 3.0 card writes the number. REST
/// shows the number, and a client sending it back unchanged leaves the card's line as it was.
fn phone_number(value: String) -> String {
    match value.get(..4) {
        Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => value[4..].to_owned(),
        _ => value,
    }
}

/// The `TYPE` parameters of a property, lower-cased and comma-joined, without the ones that only say it
/// is an internet address, a voice line or the preferred one.
fn type_of(entry: &VCardEntry) -> Option<String> {
    let types: Vec<String> = entry
        .params
        .iter()
        .filter(|p| p.name == VCardParameterName::Type)
        .filter_map(|p| match &p.value {
            VCardParameterValue::Text(t) => Some(t.to_ascii_lowercase()),
            VCardParameterValue::Type(t) => Some(t.as_str().to_ascii_lowercase()),
            _ => None,
        })
        .filter(|t| !matches!(t.as_str(), "internet" | "pref" | "voice" | "x400"))
        .collect();
    if types.is_empty() { None } else { Some(types.join(",")) }
}

fn omits_year(entry: &VCardEntry) -> bool {
    entry
        .params
        .iter()
        .any(|p| matches!(&p.name, VCardParameterName::Other(name) if name.eq_ignore_ascii_case("X-APPLE-OMIT-YEAR")))
}

/// The birthday a `BDAY` entry holds, if it is a day (with or without its year).
///
/// calcard reads a 4.0 date written in ISO 8601's extended form (`BDAY:1999-12-06`, the 3.0
/// way, which many exporters keep) as a year and a month only; `written` (the `BDAY` line's
/// text) is then read in that form.
fn birthday_of(entry: &VCardEntry, written: Option<&str>) -> Option<CardBirthday> {
    let parsed = entry.values.iter().find_map(VCardValue::as_partial_date_time);
    let (year, month, day) = match parsed.and_then(|date| Some((date.year, date.month?, date.day?))) {
        Some((year, month, day)) => (year, u32::from(month), u32::from(day)),
        None => extended_date(written?)?,
    };
    NaiveDate::from_ymd_opt(2000, month, day)?;
    match year {
        Some(year) if !(year == OMITTED_YEAR && omits_year(entry)) => {
            NaiveDate::from_ymd_opt(i32::from(year), month, day).map(CardBirthday::Date)
        }
        _ => Some(CardBirthday::YearLess(MonthDay { month, day })),
    }
}

/// The first `BDAY` line's value as written in `card`.
fn written_birthday(card: &str) -> Option<String> {
    lines(card).into_iter().find(|line| line.name == "BDAY").and_then(|line| line_value(line.text))
}

/// The value of a property's line: what follows the first colon outside quotes, unfolded.
fn line_value(line: &str) -> Option<String> {
    let mut quoted = false;
    let colon = line.char_indices().find(|&(_, c)| {
        quoted ^= c == '"';
        c == ':' && !quoted
    })?;
    Some(line[colon.0 + 1..].replace("\r\n ", "").replace("\r\n\t", "").replace("\n ", ""))
}

/// A date in ISO 8601's extended form, `YYYY-MM-DD` or `--MM-DD` (a time after `T` ignored),
/// as `(year, month, day)`.
fn extended_date(text: &str) -> Option<(Option<u16>, u32, u32)> {
    let date = text.trim().split('T').next()?;
    let (year, month_day) = match date.strip_prefix("--") {
        Some(month_day) => (None, month_day),
        None => {
            let (year, month_day) = date.split_once('-')?;
            let year = (year.len() == 4 && year.bytes().all(|b| b.is_ascii_digit())).then(|| year.parse().ok())??;
            (Some(year), month_day)
        }
    };
    let (month, day) = month_day.split_once('-')?;
    let two_digits =
        |part: &str| (part.len() == 2 && part.bytes().all(|b| b.is_ascii_digit())).then(|| part.parse().ok())?;
    Some((year, two_digits(month)?, two_digits(day)?))
}

/// The text of a value written in vCard 2.1's quoted-printable (`J=C3=BCrgen`), decoded in the
/// `charset` its property names, ISO-8859-1 when it names none (calcard's reading, so what REST
/// shows): what an inbound adapter that reads content lines itself compares against, as an
/// `addressbook-query` filter does. A `=` not followed by two hex digits is kept as it is.
pub fn quoted_printable_text(value: &str, charset: Option<&str>) -> String {
    let raw = value.as_bytes();
    let mut bytes = Vec::with_capacity(raw.len());
    let mut at = 0;
    while at < raw.len() {
        let hex = raw.get(at + 1..at + 3).filter(|h| raw[at] == b'=' && h.iter().all(u8::is_ascii_hexdigit));
        match hex.and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()) {
            Some(byte) => {
                bytes.push(byte);
                at += 3;
            }
            None => {
                bytes.push(raw[at]);
                at += 1;
            }
        }
    }
    let encoding = encoding_rs::Encoding::for_label(charset.unwrap_or("iso-8859-1").trim().as_bytes());
    match encoding {
        Some(encoding) => encoding.decode_without_bom_handling(&bytes).0.into_owned(),
        None => String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A card's text as an entry of a file of cards (the export): every line ended by CR LF, as
/// RFC 6350 3.2 writes them, the last one included. A card stored as sent may use bare LF, or
/// end without a line break; without this, a file would mix line ends, and the next card's
/// `BEGIN:VCARD` would run on after this one's `END:VCARD`.
pub fn file_entry(text: &str) -> std::borrow::Cow<'_, str> {
    let bare_lf = text.match_indices('\n').any(|(at, _)| !text[..at].ends_with('\r'));
    if !bare_lf && text.ends_with("\r\n") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut entry = String::with_capacity(text.len() + text.len() / 16 + 2);
    for line in text.split_inclusive('\n') {
        let content = line.strip_suffix('\n').unwrap_or(line);
        entry.push_str(content.strip_suffix('\r').unwrap_or(content));
        entry.push_str("\r\n");
    }
    std::borrow::Cow::Owned(entry)
}

/// The `UID` a card's text names, read from its lines alone: for a card that cannot be read
/// whole, so an import can still say which card failed. Unfolded and trimmed; `None` when the
/// card has no `UID` line, or one empty or longer than [`MAX_UID_BYTES`].
pub fn uid_text(card: &str) -> Option<String> {
    let line = lines(card).into_iter().find(|line| line.name == "UID")?;
    let unfolded: String = line
        .text
        .split_inclusive('\n')
        .map(|l| l.trim_end_matches(['\r', '\n']))
        .enumerate()
        .map(|(i, l)| if i == 0 { l } else { l.get(1..).unwrap_or_default() })
        .collect();
    let value = unfolded.split_once(':')?.1.trim();
    (!value.is_empty() && value.len() <= MAX_UID_BYTES).then(|| value.to_owned())
}

/// One logical content line of a card: its exact text (folds included) and its property name
/// (upper-cased, group removed).
struct Line<'a> {
    text: &'a str,
    name: String,
}

/// The card's logical lines: a physical line with its continuation lines (a leading space or
/// tab, or a quoted-printable soft break `=` at the end).
fn lines(card: &str) -> Vec<Line<'_>> {
    let mut out: Vec<Line<'_>> = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    let mut soft_break = false;
    for physical in card.split_inclusive('\n') {
        let continues = offset > 0 && (physical.starts_with([' ', '\t']) || soft_break);
        if !continues && offset > start {
            out.push(line(&card[start..offset]));
            start = offset;
        }
        let content = physical.trim_end_matches(['\r', '\n']);
        let current = &card[start..offset + physical.len()];
        soft_break = content.ends_with('=') && current.to_ascii_uppercase().contains("QUOTED-PRINTABLE");
        offset += physical.len();
    }
    if offset > start {
        out.push(line(&card[start..offset]));
    }
    out
}

fn line(text: &str) -> Line<'_> {
    let head = text.split([':', ';']).next().unwrap_or_default();
    let name = head.rsplit('.').next().unwrap_or_default().trim().to_ascii_uppercase();
    Line { text, name }
}

fn group_of(text: &str) -> Option<&str> {
    let head = text.split([':', ';']).next().unwrap_or_default();
    head.rsplit_once('.').map(|(group, _)| group)
}

/// Escapes a text value as RFC 6350 (and 2426) say.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\,"),
            ';' => out.push_str("\\;"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line, folded at 75 octets as the RFCs ask.
fn push_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

fn typed_line(name: &str, group: Option<&str>, value: &TypedValue) -> String {
    let mut text = String::new();
    if let Some(group) = group {
        text.push_str(group);
        text.push('.');
    }
    text.push_str(name);
    if let Some(kind) = &value.kind {
        text.push_str(";TYPE=");
        text.push_str(&kind.replace([';', ':', '"'], ""));
    }
    text.push(':');
    text.push_str(&escape(&value.value));
    text
}

fn birthday_line(birthday: CardBirthday, v4: bool) -> String {
    match (birthday, v4) {
        (CardBirthday::Date(d), true) => format!("BDAY:{:04}{:02}{:02}", d.year(), d.month(), d.day()),
        (CardBirthday::Date(d), false) => format!("BDAY:{:04}-{:02}-{:02}", d.year(), d.month(), d.day()),
        (CardBirthday::YearLess(md), true) => format!("BDAY:--{:02}{:02}", md.month, md.day),
        (CardBirthday::YearLess(md), false) => {
            format!("BDAY;X-APPLE-OMIT-YEAR={OMITTED_YEAR}:{OMITTED_YEAR}-{:02}-{:02}", md.month, md.day)
        }
    }
}

fn rev_line(at: DateTime<Utc>) -> String {
    format!("REV:{}", at.format("%Y%m%dT%H%M%SZ"))
}

/// The contact's mapped fields as REST last wrote them, to be written into its stored card.
fn wanted(contact: &Contact) -> CardView {
    CardView {
        uid: Some(contact.uid.clone()),
        first_name: contact.first_name.clone(),
        last_name: contact.last_name.clone(),
        emails: contact.emails.clone(),
        phones: contact.phones.clone(),
        birthday: match (contact.birthday, contact.birthday_md) {
            (Some(date), _) => Some(CardBirthday::Date(date)),
            (None, Some(md)) => Some(CardBirthday::YearLess(md)),
            (None, None) => None,
        },
        note: contact.additional_info.clone(),
    }
}

/// The stored card with REST's latest values written into the properties it maps (`FN`, `N`,
/// `EMAIL`, `TEL`, `BDAY`, `NOTE`, `UID`, `REV`). A property whose value REST did not change
/// keeps its line exactly; every other line (`ADR`, `ORG`, `PHOTO`, `X-…`, groups) is untouched.
pub fn apply_rest_values(card: &str, contact: &Contact) -> String {
    let current = read_card(card).unwrap_or_default();
    let want = wanted(contact);
    let v4 = card_version(card) == Some(VCardVersion::V4_0);
    let names_changed = current.first_name != want.first_name || current.last_name != want.last_name;
    let mut out = String::with_capacity(card.len() + 256);
    let all = lines(card);
    let last_of = |name: &str| all.iter().rposition(|l| l.name == name);
    let (last_email, last_tel) = (last_of("EMAIL"), last_of("TEL"));
    let end = all.iter().rposition(|l| l.name == "END").unwrap_or(all.len());
    let (mut emails, mut phones) = (0, 0);
    let mut seen = std::collections::HashSet::new();
    let mut pending: Vec<String> = Vec::new();
    for (index, l) in all.iter().enumerate() {
        if index == end {
            pending.extend(missing(&seen, &want, &current, names_changed, v4, contact));
            for extra in pending.drain(..) {
                push_line(&mut out, &extra);
            }
        }
        let first = seen.insert(l.name.clone());
        match l.name.as_str() {
            "FN" | "N" if names_changed => {
                if first {
                    push_line(&mut out, &name_line(&l.name, &want, l.text));
                }
            }
            "EMAIL" | "TEL" => {
                let (list, have, counter) = if l.name == "EMAIL" {
                    (&want.emails, &current.emails, &mut emails)
                } else {
                    (&want.phones, &current.phones, &mut phones)
                };
                let i = *counter;
                *counter += 1;
                match list.get(i) {
                    Some(w) if have.get(i) == Some(w) => out.push_str(l.text),
                    Some(w) => push_line(&mut out, &typed_line(&l.name, group_of(l.text), w)),
                    None => {}
                }
                if Some(index) == if l.name == "EMAIL" { last_email } else { last_tel } {
                    for w in list.iter().skip(i + 1) {
                        push_line(&mut out, &typed_line(&l.name, None, w));
                    }
                }
            }
            "BDAY" if want.birthday != current.birthday => {
                if first && let Some(b) = want.birthday {
                    push_line(&mut out, &birthday_line(b, v4));
                }
            }
            "NOTE" if want.note != current.note => {
                if first && let Some(note) = &want.note {
                    push_line(&mut out, &format!("NOTE:{}", escape(note)));
                }
            }
            "UID" if current.uid.as_deref() != Some(contact.uid.as_str()) => {
                if first {
                    push_line(&mut out, &format!("UID:{}", contact.uid));
                }
            }
            "REV" => {
                if first {
                    push_line(&mut out, &rev_line(contact.updated_at));
                }
            }
            _ => out.push_str(l.text),
        }
        if !out.ends_with('\n') {
            out.push_str("\r\n");
        }
    }
    out
}

/// The mapped properties the card lacks a line for, to be added before `END:VCARD`.
fn missing(
    seen: &std::collections::HashSet<String>,
    want: &CardView,
    current: &CardView,
    names_changed: bool,
    v4: bool,
    contact: &Contact,
) -> Vec<String> {
    let mut extra = Vec::new();
    let has = |name: &str| seen.contains(name);
    if !has("UID") {
        extra.push(format!("UID:{}", contact.uid));
    }
    if !has("FN") {
        extra.push(name_line("FN", want, ""));
    }
    if !has("N") && (names_changed || !has("FN")) {
        extra.push(name_line("N", want, ""));
    }
    if !has("EMAIL") {
        extra.extend(want.emails.iter().map(|w| typed_line("EMAIL", None, w)));
    }
    if !has("TEL") {
        extra.extend(want.phones.iter().map(|w| typed_line("TEL", None, w)));
    }
    if !has("BDAY")
        && want.birthday != current.birthday
        && let Some(b) = want.birthday
    {
        extra.push(birthday_line(b, v4));
    }
    if !has("NOTE")
        && let Some(note) = &want.note
    {
        extra.push(format!("NOTE:{}", escape(note)));
    }
    if !has("REV") {
        extra.push(rev_line(contact.updated_at));
    }
    extra
}

/// A new `FN` or `N` line for REST's names; an `N` keeps the old line's other components.
fn name_line(name: &str, want: &CardView, old: &str) -> String {
    if name == "FN" {
        let full = format!("{} {}", want.first_name, want.last_name);
        return format!("FN:{}", escape(full.trim()));
    }
    let rest: Vec<String> = parse(&format!("BEGIN:VCARD\r\nVERSION:4.0\r\n{}\r\nEND:VCARD\r\n", old.trim_end()))
        .ok()
        .and_then(|c| c.entries.into_iter().find(|e| e.name == VCardProperty::N))
        .map(|e| components(&e).into_iter().skip(2).map(|c| escape(&c)).collect())
        .unwrap_or_default();
    let mut parts = vec![escape(&want.last_name), escape(&want.first_name)];
    parts.extend(rest);
    parts.resize(5.max(parts.len()), String::new());
    format!("N:{}", parts.join(";"))
}

/// The version of a card kept as a resource of its own (a CardDAV `PUT`), which must be one
/// address books advertise, written as its RFC requires: a `VERSION` of `3.0` or `4.0`
/// ([`CardError::UnsupportedVersion`] for another, as vCard 2.1), in 4.0 right after
/// `BEGIN:VCARD` (RFC 6350 6.7.9), every `PREF` an integer from 1 to 100 (RFC 6350 5.3) and
/// `MEMBER` only in a `KIND:group` card (6.6.5); in 3.0 a `PROFILE` is `VCARD` (RFC 2426
/// 2.1.3). Imports take more (2.1, older writers' cards) and do not ask this.
pub fn resource_version(card: &str) -> Result<Version, CardError> {
    let lines = lines(card);
    let invalid = |why: &str| Err(CardError::Invalid(why.to_owned()));
    let Some(at) = lines.iter().position(|l| l.name == "VERSION") else { return invalid("the card has no VERSION") };
    let version = match card_version(card) {
        Some(VCardVersion::V3_0) => Version::V3,
        Some(VCardVersion::V4_0) => Version::V4,
        _ => return Err(CardError::UnsupportedVersion),
    };
    if version == Version::V4 {
        let first = lines.iter().position(|l| !l.text.trim().is_empty());
        if first.map(|begin| begin + 1) != Some(at) {
            return invalid("VERSION must follow BEGIN:VCARD");
        }
        let prefs_in_range = lines.iter().all(|l| {
            let head = &l.text[..head_end(l.text).unwrap_or(l.text.len())];
            head.split(';').skip(1).filter_map(|p| p.split_once('=')).all(|(name, value)| {
                let value = value.trim().trim_matches('"');
                !name.trim().eq_ignore_ascii_case("PREF") || value.parse::<u8>().is_ok_and(|n| (1..=100).contains(&n))
            })
        });
        if !prefs_in_range {
            return invalid("PREF must be an integer from 1 to 100");
        }
        let value_of = |l: &Line<'_>| l.text[head_end(l.text).map_or(l.text.len(), |at| at + 1)..].trim().to_owned();
        let group = lines.iter().any(|l| l.name == "KIND" && value_of(l).eq_ignore_ascii_case("group"));
        if !group && lines.iter().any(|l| l.name == "MEMBER") {
            return invalid("MEMBER belongs in a KIND:group card");
        }
    } else if lines.iter().any(|l| l.name == "PROFILE" && !l.text.trim_end().to_ascii_uppercase().ends_with(":VCARD")) {
        return invalid("PROFILE must be VCARD");
    }
    Ok(version)
}

/// Where a content line's name and parameters end: its first colon outside double quotes (a
/// parameter value may hold one).
pub fn head_end(line: &str) -> Option<usize> {
    let mut quoted = false;
    line.char_indices().find_map(|(i, c)| {
        if c == '"' {
            quoted = !quoted;
        }
        (c == ':' && !quoted).then_some(i)
    })
}

fn card_version(card: &str) -> Option<VCardVersion> {
    lines(card).iter().find(|l| l.name == "VERSION").and_then(|l| match l.text.split_once(':').map(|(_, v)| v.trim()) {
        Some("4.0") => Some(VCardVersion::V4_0),
        Some("3.0") => Some(VCardVersion::V3_0),
        Some("2.1") => Some(VCardVersion::V2_1),
        _ => None,
    })
}

/// A strong validator of a card's exact bytes (hex of the first 16 bytes of its SHA-256).
pub fn etag(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// A new card for a contact made through REST: 4.0, with its UID and the mapped fields.
pub fn new_card(contact: &Contact) -> String {
    apply_rest_values(&format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{}\r\nEND:VCARD\r\n", contact.uid), contact)
}

mod convert;
#[cfg(test)]
mod tests;

pub use convert::render;
