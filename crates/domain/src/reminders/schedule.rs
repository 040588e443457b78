//! When a user is due: their local date and hour at an instant, and the instant of their next
//! digest. Time zones with daylight saving time have days of 23 and 25 hours and local times
//! that happen twice or never; these functions pick one answer for each.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::settings::ReminderSettings;

/// An instant seen from a time zone: the local calendar date and hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMoment {
    /// The local date.
    pub date: NaiveDate,
    /// The local hour, 0–23.
    pub hour: u32,
}

/// `now` as a local date and hour in `tz`.
pub fn local_moment(tz: Tz, now: DateTime<Utc>) -> LocalMoment {
    let local = now.with_timezone(&tz);
    LocalMoment { date: local.date_naive(), hour: local.hour() }
}

/// The instant at which `date` reaches `hour` o'clock in `tz`. A local time that happens
/// twice (clocks going back) is its first occurrence; one that never happens (clocks going
/// forward) is the first local time after the gap.
pub fn instant_at(tz: Tz, date: NaiveDate, hour: u32) -> DateTime<Utc> {
    let mut local = date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).expect("hours are 0–23"));
    // No zone has a gap longer than a day; step in quarter hours until the clock exists.
    for _ in 0..96 {
        if let Some(at) = tz.from_local_datetime(&local).earliest() {
            return at.with_timezone(&Utc);
        }
        local += chrono::Duration::minutes(15);
    }
    local.and_utc()
}

impl ReminderSettings {
    /// The local date whose digest is due at `now`, if one is: the local hour has reached
    /// `reminder_hour`. Only today counts: a day missed while nothing ran is not due later.
    pub fn due_date(&self, now: DateTime<Utc>) -> Option<NaiveDate> {
        let moment = local_moment(self.timezone.tz(), now);
        (self.birthday_reminders && moment.hour >= self.reminder_hour.get()).then_some(moment.date)
    }
}

/// The instant `now`'s local date reaches the user's hour, past or still to come.
pub fn hour_of_the_day(settings: &ReminderSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = settings.timezone.tz();
    instant_at(tz, local_moment(tz, now).date, settings.reminder_hour.get())
}

/// When to look at a user again after `now`: today's hour if it is still to come, otherwise
/// tomorrow's (local days, so 23 or 25 hours apart across a daylight-saving change).
pub fn next_run_after(settings: &ReminderSettings, now: DateTime<Utc>) -> DateTime<Utc> {
    let at_today = hour_of_the_day(settings, now);
    if at_today > now {
        return at_today;
    }
    let tz = settings.timezone.tz();
    let (today, hour) = (local_moment(tz, now).date, settings.reminder_hour.get());
    let tomorrow = today.checked_add_days(Days::new(1)).unwrap_or(today);
    instant_at(tz, tomorrow, hour)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reminders::settings::{ReminderHour, TimeZoneName};

    fn utc(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc)
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn settings(zone: &str, hour: i64) -> ReminderSettings {
        ReminderSettings {
            timezone: TimeZoneName::parse(zone).unwrap(),
            reminder_hour: ReminderHour::parse(hour).unwrap(),
            ..ReminderSettings::default()
        }
    }

    #[test]
    fn east_of_utc_the_local_day_starts_earlier() {
        // 23:30 UTC on 31 December is 08:30 on 1 January in Tokyo (UTC+9).
        let tokyo = settings("Asia/Tokyo", 8);
        assert_eq!(tokyo.due_date(utc("2025-12-31T23:30:00Z")), Some(d(2026, 1, 1)));
        assert_eq!(tokyo.due_date(utc("2025-12-31T22:30:00Z")), None, "07:30 in Tokyo");
    }

    #[test]
    fn west_of_utc_the_local_day_is_still_yesterday() {
        // 02:00 UTC on 1 March is 18:00 on 28 February in Los Angeles (UTC-8).
        let la = settings("America/Los_Angeles", 18);
        assert_eq!(la.due_date(utc("2025-03-01T02:00:00Z")), Some(d(2025, 2, 28)));
        assert_eq!(la.due_date(utc("2025-03-01T01:59:59Z")), None);
    }

    #[test]
    fn off_is_never_due() {
        let off = ReminderSettings { birthday_reminders: false, ..settings("UTC", 0) };
        assert_eq!(off.due_date(utc("2025-06-01T12:00:00Z")), None);
    }

    #[test]
    fn the_hour_follows_daylight_saving_time() {
        // Paris: UTC+1 in winter, UTC+2 from 30 March 2025 02:00 local.
        let paris = settings("Europe/Paris", 8);
        assert_eq!(paris.due_date(utc("2025-03-29T07:00:00Z")), Some(d(2025, 3, 29)));
        assert_eq!(paris.due_date(utc("2025-03-30T06:30:00Z")), Some(d(2025, 3, 30)), "08:30 CEST");
        assert_eq!(paris.due_date(utc("2025-03-30T05:30:00Z")), None, "07:30 CEST");
        // The next run after Saturday's 08:00 is Sunday 08:00 CEST, 23 hours later.
        assert_eq!(next_run_after(&paris, utc("2025-03-29T07:00:00Z")), utc("2025-03-30T06:00:00Z"));
        // And in autumn a local day has 25 hours.
        assert_eq!(next_run_after(&paris, utc("2025-10-25T06:00:00Z")), utc("2025-10-26T07:00:00Z"));
    }

    #[test]
    fn an_hour_that_does_not_exist_runs_after_the_gap() {
        // 30 March 2025 in Paris has no 02:xx: 02:00 means 03:00 CEST = 01:00 UTC.
        assert_eq!(instant_at(Tz::Europe__Paris, d(2025, 3, 30), 2), utc("2025-03-30T01:00:00Z"));
        let paris = settings("Europe/Paris", 2);
        assert_eq!(paris.due_date(utc("2025-03-30T01:00:00Z")), Some(d(2025, 3, 30)));
        // An hour that happens twice runs at its first occurrence.
        assert_eq!(instant_at(Tz::Europe__Paris, d(2025, 10, 26), 2), utc("2025-10-26T00:00:00Z"));
    }

    #[test]
    fn next_run_is_today_before_the_hour_and_tomorrow_after_it() {
        let tokyo = settings("Asia/Tokyo", 8);
        assert_eq!(next_run_after(&tokyo, utc("2025-12-31T20:00:00Z")), utc("2025-12-31T23:00:00Z"));
        assert_eq!(next_run_after(&tokyo, utc("2025-12-31T23:00:00Z")), utc("2026-01-01T23:00:00Z"));
    }
}
