//! [`BirthdayList`]: a birthday list too long to read at once, and the order every birthday
//! list is given in.

use std::collections::{HashMap, VecDeque};

use chrono::NaiveDate;

use super::birthdays::{MonthDay, next_birthday};
use super::models::{Contact, ContactId};

/// Contacts a birthday list reads at a time: what one list holds in memory, however many
/// birthdays the book has (a window of a year is the whole book).
pub const BIRTHDAY_CHUNK: usize = 500;

/// The rest of a birthday list too long to read at once (see
/// [`ContactService::upcoming_birthdays`](super::ContactService::upcoming_birthdays)): the days
/// still to read, soonest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BirthdayList {
    pub(super) today: NaiveDate,
    pub(super) chunks: VecDeque<BirthdayChunk>,
}

/// One read of a long birthday list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum BirthdayChunk {
    /// Consecutive days with at most [`BIRTHDAY_CHUNK`] birthdays together when counted, read
    /// at once. Each day is its month-days: 28 and 29 February together in a year without a
    /// 29th.
    Days(Vec<Vec<MonthDay>>),
    /// One day with more (or a day of a `Days` chunk that had grown when read), read in id
    /// order (its ties' order) a chunk at a time, after `after`.
    LongDay { day: Vec<MonthDay>, after: Option<ContactId> },
}

impl BirthdayList {
    /// Groups the days (in celebration order) into chunks by their birthday counts, leaving
    /// out days without any.
    pub(super) fn plan(today: NaiveDate, days: Vec<Vec<MonthDay>>, counts: &HashMap<MonthDay, i64>) -> Self {
        let mut chunks = VecDeque::new();
        let (mut days_chunk, mut in_chunk) = (Vec::new(), 0_usize);
        for day in days {
            let count = day.iter().map(|md| counts.get(md).copied().unwrap_or(0)).sum::<i64>();
            let count = usize::try_from(count).unwrap_or(0);
            if count == 0 {
                continue;
            }
            if in_chunk + count > BIRTHDAY_CHUNK && !days_chunk.is_empty() {
                chunks.push_back(BirthdayChunk::Days(std::mem::take(&mut days_chunk)));
                in_chunk = 0;
            }
            if count > BIRTHDAY_CHUNK {
                chunks.push_back(BirthdayChunk::LongDay { day, after: None });
            } else {
                days_chunk.push(day);
                in_chunk += count;
            }
        }
        if !days_chunk.is_empty() {
            chunks.push_back(BirthdayChunk::Days(days_chunk));
        }
        Self { today, chunks }
    }
}

/// Sorts contacts soonest birthday first, ties by id.
pub(super) fn soonest_first(contacts: &mut [Contact], today: NaiveDate) {
    // A leap year stands for year-less birthdays, so 29 February keeps its rule.
    let leap_date = |md: MonthDay| NaiveDate::from_ymd_opt(2000, md.month, md.day);
    contacts.sort_by_key(|c| {
        let date = c.birthday.or_else(|| c.birthday_md.and_then(leap_date));
        (date.map(|d| next_birthday(d, today)), c.id)
    });
}
