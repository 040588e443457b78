//! Timestamps and dates written into JSON without chrono's `fmt` machinery: chrono serialises
//! them through `Display`, about 2,900 instructions a timestamp, and a page of 20 contacts has 40
//! (`just profile`). The text is chrono's own: RFC 3339 in UTC with `Z` and as many fractional
//! digits as the value needs (none, 3, 6 or 9), and `YYYY-MM-DD` for dates. Years outside
//! 0–9999 and leap seconds, which chrono writes differently, go through chrono.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::{Serialize, Serializer};

/// Serialises a timestamp as chrono would (`#[serde(serialize_with = "…")]`).
pub(crate) fn timestamp<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut text = Text::default();
    if at.nanosecond() >= 1_000_000_000 || !text.date(at.date_naive()) {
        return at.serialize(serializer);
    }
    text.byte(b'T');
    text.two(at.hour());
    text.byte(b':');
    text.two(at.minute());
    text.byte(b':');
    text.two(at.second());
    let nano = at.nanosecond();
    if nano == 0 {
    } else if nano.is_multiple_of(1_000_000) {
        text.fraction(nano / 1_000_000, 3);
    } else if nano.is_multiple_of(1_000) {
        text.fraction(nano / 1_000, 6);
    } else {
        text.fraction(nano, 9);
    }
    text.byte(b'Z');
    serializer.serialize_str(text.as_str())
}

/// Serialises an optional date as chrono would (`null` when absent).
pub(crate) fn optional_date<S: Serializer>(date: &Option<NaiveDate>, serializer: S) -> Result<S::Ok, S::Error> {
    let Some(date) = date else { return serializer.serialize_none() };
    let mut text = Text::default();
    if !text.date(*date) {
        return date.serialize(serializer);
    }
    serializer.serialize_str(text.as_str())
}

/// ASCII digits and separators on the stack; the longest text is 30 bytes.
#[derive(Default)]
struct Text {
    bytes: [u8; 32],
    len: usize,
}

impl Text {
    fn byte(&mut self, b: u8) {
        self.bytes[self.len] = b;
        self.len += 1;
    }

    /// `value` in `width` digits, zero-padded (`value` is below `10^width`).
    fn digits(&mut self, mut value: u32, width: usize) {
        for i in (0..width).rev() {
            self.bytes[self.len + i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
        self.len += width;
    }

    fn two(&mut self, value: u32) {
        self.digits(value, 2);
    }

    fn fraction(&mut self, value: u32, width: usize) {
        self.byte(b'.');
        self.digits(value, width);
    }

    /// `YYYY-MM-DD`; false (nothing written) for a year chrono writes with a sign.
    fn date(&mut self, date: NaiveDate) -> bool {
        let Ok(year @ 0..=9999) = u32::try_from(date.year()) else { return false };
        self.digits(year, 4);
        self.byte(b'-');
        self.two(date.month());
        self.byte(b'-');
        self.two(date.day());
        true
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;
