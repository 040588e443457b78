//! The fast text is chrono's text, for every precision, the year range's edges and the values
//! chrono writes its own way.

use chrono::{NaiveDate, TimeZone};
use serde::Serialize;

use super::*;

#[derive(Serialize)]
struct Fast {
    #[serde(serialize_with = "timestamp")]
    at: DateTime<Utc>,
    #[serde(serialize_with = "optional_date")]
    day: Option<NaiveDate>,
}

#[derive(Serialize)]
struct Chrono {
    at: DateTime<Utc>,
    day: Option<NaiveDate>,
}

fn assert_same(at: DateTime<Utc>, day: Option<NaiveDate>) {
    let fast = serde_json::to_string(&Fast { at, day }).unwrap();
    let chrono = serde_json::to_string(&Chrono { at, day }).unwrap();
    assert_eq!(fast, chrono);
}

#[test]
fn every_precision_is_written_as_chrono_writes_it() {
    let base = Utc.with_ymd_and_hms(2026, 12, 1, 14, 2, 3).unwrap();
    for nanos in
        [0, 1, 9, 10, 999, 1_000, 1_001, 120_000, 123_456, 999_999, 1_000_000, 5_000_000, 123_456_789, 999_999_999]
    {
        let at = base + chrono::Duration::nanoseconds(nanos);
        assert_same(at, at.date_naive().into());
    }
    // A spread of instants and dates (a fixed linear congruential walk).
    let mut seed: i64 = 0x2545_f491;
    for _ in 0..2_000 {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        let micros = (seed >> 8).rem_euclid(253_402_300_799_000_000); // up to 9999-12-31
        let at = DateTime::<Utc>::from_timestamp_micros(micros).unwrap();
        assert_same(at, Some(at.date_naive()));
    }
}

#[test]
fn the_edges_and_chronos_own_cases_fall_back_to_chrono() {
    let first = Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap();
    let last = Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap();
    let before = Utc.with_ymd_and_hms(-1, 12, 31, 23, 59, 59).unwrap();
    let after = Utc.with_ymd_and_hms(10000, 1, 1, 0, 0, 0).unwrap();
    for at in [first, last, before, after] {
        assert_same(at, Some(at.date_naive()));
    }
    assert_same(first, None);
    // A leap second: chrono writes :60.
    let leap = NaiveDate::from_ymd_opt(2016, 12, 31).unwrap().and_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap();
    assert_same(Utc.from_utc_datetime(&leap), None);
    assert_eq!(
        serde_json::to_value(Fast { at: last, day: NaiveDate::from_ymd_opt(1904, 2, 29) }).unwrap(),
        serde_json::json!({"at": "9999-12-31T23:59:59Z", "day": "1904-02-29"})
    );
}
