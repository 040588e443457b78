//! The clock port: services ask it for "now" instead of reading the system time, so date
//! rules (token expiry, birthday windows) can be tested on fixed dates.

use chrono::{DateTime, NaiveDate, Utc};

/// A source of the current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync + 'static {
    /// The current instant, in UTC.
    fn now(&self) -> DateTime<Utc>;

    /// Today's date in UTC, the calendar every date rule of the API is judged in.
    fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }
}

/// The real clock, reading the system time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
