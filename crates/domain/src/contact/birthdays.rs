//! Birthday arithmetic: which calendar days a window covers and when a birthday next falls.
//!
//! A 29 February birthday is celebrated on 28 February in non-leap years, and windows wrap
//! the year end. All dates are UTC calendar dates.

use chrono::{Datelike, Days, NaiveDate};

/// A day of the year as month and day, the part of a birthday a window is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonthDay {
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
}

impl MonthDay {
    /// The month and day of `date`.
    pub fn of(date: NaiveDate) -> Self {
        Self { month: date.month(), day: date.day() }
    }
}

/// The birthdays (as month and day) celebrated from `today` to `today + days`, inclusive.
///
/// In a non-leap year, 28 February also stands for 29 February birthdays.
pub fn birthday_window(today: NaiveDate, days: u32) -> Vec<MonthDay> {
    let mut window: Vec<MonthDay> = celebration_days(today, days).into_iter().flatten().collect();
    window.sort();
    window
}

/// The days from `today` to `today + days`, in order, each as the birthdays celebrated on it:
/// one month and day, or two on 28 February of a non-leap year. A month and day comes only on
/// its first day (a window of 365 days can end on the day it began).
///
/// A birthday list is read day by day in this order when it is too long to hold at once.
pub fn celebration_days(today: NaiveDate, days: u32) -> Vec<Vec<MonthDay>> {
    let mut seen = std::collections::HashSet::new();
    let mut celebrated = Vec::with_capacity(days as usize + 1);
    for offset in 0..=days {
        let Some(date) = today.checked_add_days(Days::new(offset.into())) else { break };
        let mut on_this_day = vec![MonthDay::of(date)];
        if date.month() == 2 && date.day() == 28 && !is_leap(date.year()) {
            on_this_day.push(MonthDay { month: 2, day: 29 });
        }
        on_this_day.retain(|md| seen.insert(*md));
        if !on_this_day.is_empty() {
            celebrated.push(on_this_day);
        }
    }
    celebrated
}

/// The next date, on or after `today`, on which a person born on `birthday` celebrates.
pub fn next_birthday(birthday: NaiveDate, today: NaiveDate) -> NaiveDate {
    let this_year = celebration(birthday, today.year());
    if this_year >= today { this_year } else { celebration(birthday, today.year() + 1) }
}

fn celebration(birthday: NaiveDate, year: i32) -> NaiveDate {
    birthday.with_year(year).or_else(|| NaiveDate::from_ymd_opt(year, 2, 28)).expect("28 February exists every year")
}

fn is_leap(year: i32) -> bool {
    NaiveDate::from_ymd_opt(year, 2, 29).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn md(month: u32, day: u32) -> MonthDay {
        MonthDay { month, day }
    }

    #[test]
    fn window_of_zero_days_is_today() {
        assert_eq!(birthday_window(d(2025, 6, 15), 0), vec![md(6, 15)]);
    }

    #[test]
    fn window_wraps_the_year_end() {
        let window = birthday_window(d(2025, 12, 31), 2);
        assert_eq!(window, vec![md(1, 1), md(1, 2), md(12, 31)]);
    }

    #[test]
    fn window_crosses_month_ends() {
        let window = birthday_window(d(2025, 4, 29), 3);
        assert_eq!(window, vec![md(4, 29), md(4, 30), md(5, 1), md(5, 2)]);
    }

    #[test]
    fn feb_28_of_a_non_leap_year_covers_feb_29_birthdays() {
        assert_eq!(birthday_window(d(2025, 2, 28), 0), vec![md(2, 28), md(2, 29)]);
        assert_eq!(birthday_window(d(2025, 2, 27), 1), vec![md(2, 27), md(2, 28), md(2, 29)]);
        // 1 March of a non-leap year: 29 February was celebrated yesterday.
        assert_eq!(birthday_window(d(2025, 3, 1), 0), vec![md(3, 1)]);
    }

    #[test]
    fn in_a_leap_year_feb_29_is_its_own_day() {
        assert_eq!(birthday_window(d(2024, 2, 28), 0), vec![md(2, 28)]);
        assert_eq!(birthday_window(d(2024, 2, 28), 1), vec![md(2, 28), md(2, 29)]);
        assert_eq!(birthday_window(d(2024, 3, 1), 0), vec![md(3, 1)]);
    }

    #[test]
    fn a_full_year_window_covers_every_day() {
        assert_eq!(birthday_window(d(2025, 1, 1), 365).len(), 366);
    }

    #[test]
    fn celebration_days_are_in_calendar_order_across_the_year_end() {
        assert_eq!(celebration_days(d(2025, 12, 30), 2), vec![vec![md(12, 30)], vec![md(12, 31)], vec![md(1, 1)]]);
    }

    #[test]
    fn feb_29_is_celebrated_with_feb_28_only_in_a_non_leap_year() {
        assert_eq!(celebration_days(d(2025, 2, 28), 1), vec![vec![md(2, 28), md(2, 29)], vec![md(3, 1)]]);
        assert_eq!(celebration_days(d(2024, 2, 28), 2), vec![vec![md(2, 28)], vec![md(2, 29)], vec![md(3, 1)]]);
    }

    #[test]
    fn a_full_year_of_celebration_days_names_every_day_once() {
        // 2025-03-01 + 365 days is 2026-03-01: that day's birthdays belong to the first day.
        let days = celebration_days(d(2025, 3, 1), 365);
        assert_eq!(days.len(), 365);
        assert_eq!(days[0], vec![md(3, 1)]);
        assert_eq!(days.last(), Some(&vec![md(2, 28), md(2, 29)]));
        assert_eq!(days.iter().flatten().count(), 366);
    }

    #[test]
    fn next_birthday_is_today_later_this_year_or_next_year() {
        assert_eq!(next_birthday(d(1990, 6, 15), d(2025, 6, 15)), d(2025, 6, 15));
        assert_eq!(next_birthday(d(1990, 6, 16), d(2025, 6, 15)), d(2025, 6, 16));
        assert_eq!(next_birthday(d(1990, 1, 2), d(2025, 12, 31)), d(2026, 1, 2));
    }

    #[test]
    fn leap_day_birthdays_fall_on_feb_28_in_other_years() {
        let leapling = d(2000, 2, 29);
        assert_eq!(next_birthday(leapling, d(2025, 2, 28)), d(2025, 2, 28));
        assert_eq!(next_birthday(leapling, d(2025, 3, 1)), d(2026, 2, 28));
        assert_eq!(next_birthday(leapling, d(2024, 2, 28)), d(2024, 2, 29));
        assert_eq!(next_birthday(leapling, d(2023, 12, 31)), d(2024, 2, 29));
    }
}
