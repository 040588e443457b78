//! [`KeptAnswers`]: the JSON of recent list pages and birthday lists, kept by each instance so
//! that one asked for again is neither read from the database nor written out again while the
//! book is unchanged.
//!
//! A page of the whole book is the same answer until one of the owner's contacts changes; a
//! birthday list, until one changes or the day does. Each copy is kept with the stamp it was
//! read at; the next request for the same answer sends that stamp, PostgreSQL's book stamp is
//! read by key, and while the two are the same the copy is the answer, and no contact is read
//! (see [`ContactService::list_since`](contacts_domain::contact::ContactService::list_since) and
//! [`ContactService::upcoming_birthdays`](contacts_domain::contact::ContactService::upcoming_birthdays)).
//! Nothing here is trusted without that check, so a change made through any instance, REST,
//! CardDAV or an import, shows on the very next request.
//!
//! Memory is bounded: the instance's bound (`LIST_CACHE_BYTES`; 0 keeps nothing) is shared
//! half and half by list pages and birthday lists, so neither kind pushes the other out; an
//! answer over its kind's largest copy ([`MOST_BYTES_A_PAGE`], [`MOST_BYTES_A_BIRTHDAY_LIST`])
//! is not kept, and the oldest copies of a kind go once they weigh more than its half.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use actix_web::HttpResponse;
use actix_web::web::Bytes;
use contacts_domain::contact::{BirthdayStamp, BookStamp};
use contacts_domain::user::UserId;

/// The largest page kept, in bytes of JSON: a default page of 100 contacts is about 40 KiB.
/// Larger pages are rare, and each would push out many small ones.
pub(crate) const MOST_BYTES_A_PAGE: usize = 64 * 1024;

/// The largest birthday list kept, in bytes of JSON: about 1,300 contacts, a week of a book of
/// 60,000 with a birthday on every card. A client showing upcoming birthdays asks for the same
/// list over and over, and its cost grows with its length, so long lists are the ones worth
/// keeping; a year of a big book (megabytes) is not.
pub(crate) const MOST_BYTES_A_BIRTHDAY_LIST: usize = 512 * 1024;

/// What a copy weighs besides its JSON: its map and queue slots and the key kept twice.
const ENTRY_BYTES: usize = 96;

/// Which page: its owner, `skip` and `limit`.
pub(crate) type PageKey = (UserId, i64, i64);

/// Which birthday list: its owner and `days`.
pub(crate) type BirthdayKey = (UserId, i64);

/// A kept answer: its JSON and total, as they were at `stamp`.
#[derive(Debug, Clone)]
pub(crate) struct KeptAnswer<S> {
    /// What the answer was read at.
    pub(crate) stamp: S,
    /// `X-Total-Count`, for an answer that has one.
    pub(crate) total: Option<i64>,
    /// The response body (shared, not copied, by each answer).
    pub(crate) body: Bytes,
}

impl<S> KeptAnswer<S> {
    /// The answer itself, as it was first sent.
    pub(crate) fn response(self) -> HttpResponse {
        json_answer(self.total, self.body)
    }
}

/// `200` with a JSON body, and `X-Total-Count` for a list page: a list's answer, kept or not.
pub(crate) fn json_answer(total: Option<i64>, body: Bytes) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    if let Some(total) = total {
        response.insert_header(("X-Total-Count", total.to_string()));
    }
    response.content_type("application/json").body(body)
}

/// The answers kept by one instance, shared by its workers: list pages and birthday lists.
#[derive(Debug)]
pub struct KeptAnswers {
    /// Pages of whole books.
    pub(crate) pages: Copies<PageKey, BookStamp>,
    /// Birthday lists.
    pub(crate) birthdays: Copies<BirthdayKey, BirthdayStamp>,
}

impl KeptAnswers {
    /// Copies weighing at most `most_bytes` together, half for each kind (0: none is kept).
    pub fn new(most_bytes: usize) -> Self {
        Self {
            pages: Copies::new(most_bytes / 2, MOST_BYTES_A_PAGE),
            birthdays: Copies::new(most_bytes / 2, MOST_BYTES_A_BIRTHDAY_LIST),
        }
    }
}

/// Copies of one kind of answer.
#[derive(Debug)]
pub(crate) struct Copies<K, S> {
    /// The most all copies may weigh together, in bytes.
    most_bytes: usize,
    /// The most one copy's JSON may weigh.
    most_a_copy: usize,
    kept: Mutex<Kept<K, S>>,
}

#[derive(Debug)]
struct Kept<K, S> {
    /// Each answer with the number it was kept under (to tell it from an earlier copy of the
    /// same answer still waiting in `order`).
    entries: HashMap<K, (u64, KeptAnswer<S>)>,
    /// Answers in the order they were kept, oldest first, with their numbers.
    order: VecDeque<(K, u64)>,
    /// What every copy weighs together.
    bytes: usize,
    /// The number of the next copy.
    next: u64,
}

impl<K, S> Default for Kept<K, S> {
    fn default() -> Self {
        Self { entries: HashMap::new(), order: VecDeque::new(), bytes: 0, next: 0 }
    }
}

impl<K: Hash + Eq, S> Kept<K, S> {
    fn remove(&mut self, key: &K) {
        if let Some((_, gone)) = self.entries.remove(key) {
            self.bytes -= weight(&gone);
        }
    }
}

fn weight<S>(answer: &KeptAnswer<S>) -> usize {
    answer.body.len() + ENTRY_BYTES
}

impl<K: Hash + Eq + Copy, S: Copy> Copies<K, S> {
    /// Copies weighing at most `most_bytes` together, none of them over `most_a_copy` bytes of
    /// JSON (`most_bytes` 0: none is kept).
    pub(crate) fn new(most_bytes: usize, most_a_copy: usize) -> Self {
        Self { most_bytes, most_a_copy, kept: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept<K, S>> {
        // The map is consistent after every statement of the methods below, so a panic while
        // holding the lock leaves nothing half done.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The longest JSON a copy may have, in bytes (0 when nothing is kept): an answer written as
    /// it is read need not be copied while it is sent if it cannot be kept.
    pub(crate) fn largest(&self) -> usize {
        self.most_a_copy.min(self.most_bytes.saturating_sub(ENTRY_BYTES))
    }

    /// The kept copy of the answer, if any (to be checked against the book's stamp).
    pub(crate) fn get(&self, key: &K) -> Option<KeptAnswer<S>> {
        if self.most_bytes == 0 {
            return None;
        }
        self.lock().entries.get(key).map(|(_, page)| page.clone())
    }

    /// Keeps `page` in place of any earlier copy of the same answer, then lets the oldest
    /// copies go until all of them are within the bound.
    pub(crate) fn keep(&self, key: K, page: KeptAnswer<S>) {
        if page.body.len() > self.most_a_copy || weight(&page) > self.most_bytes {
            return;
        }
        let mut kept = self.lock();
        kept.remove(&key);
        let number = kept.next;
        kept.next += 1;
        kept.bytes += weight(&page);
        kept.entries.insert(key, (number, page));
        kept.order.push_back((key, number));
        while kept.bytes > self.most_bytes {
            let Some((oldest, number)) = kept.order.pop_front() else { break };
            // An answer kept again since sits later in the queue under its new number.
            if kept.entries.get(&oldest).is_some_and(|(current, _)| *current == number) {
                kept.remove(&oldest);
            }
        }
        // Copies replaced in place leave their old numbers behind; drop them once they are
        // most of the queue, so it cannot grow without bound while the map stays small.
        if kept.order.len() > 2 * kept.entries.len() + 16 {
            let Kept { entries, order, .. } = &mut *kept;
            order.retain(|(key, number)| entries.get(key).is_some_and(|(current, _)| current == number));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pages = Copies<PageKey, BookStamp>;

    fn page(stamp: i64, bytes: usize) -> KeptAnswer<BookStamp> {
        KeptAnswer { stamp: BookStamp(stamp), total: Some(7), body: Bytes::from(vec![b'x'; bytes]) }
    }

    fn key(owner: i64, skip: i64) -> PageKey {
        (UserId(owner), skip, 20)
    }

    #[test]
    fn a_kept_page_comes_back_with_its_stamp_until_replaced() {
        let pages = Pages::new(1 << 20, MOST_BYTES_A_PAGE);
        assert!(pages.get(&key(1, 0)).is_none());

        pages.keep(key(1, 0), page(5, 100));
        let kept = pages.get(&key(1, 0)).unwrap();
        assert_eq!((kept.stamp, kept.total, kept.body.len()), (BookStamp(5), Some(7), 100));
        assert!(pages.get(&key(1, 20)).is_none(), "another page");
        assert!(pages.get(&key(2, 0)).is_none(), "another owner");

        pages.keep(key(1, 0), page(6, 50));
        assert_eq!(pages.get(&key(1, 0)).unwrap().stamp, BookStamp(6));
        assert_eq!(pages.lock().bytes, 50 + ENTRY_BYTES, "the replaced copy no longer counts");
    }

    #[test]
    fn the_oldest_copies_go_first_once_the_bound_is_passed() {
        let pages = Pages::new(3 * (1000 + ENTRY_BYTES), MOST_BYTES_A_PAGE);
        for skip in 0..3 {
            pages.keep(key(1, skip), page(1, 1000));
        }
        // Kept again: now the newest.
        pages.keep(key(1, 0), page(2, 1000));

        pages.keep(key(1, 3), page(1, 1000));

        assert!(pages.get(&key(1, 1)).is_none(), "the oldest went");
        for skip in [0, 2, 3] {
            assert!(pages.get(&key(1, skip)).is_some(), "skip {skip}");
        }
        assert!(pages.lock().bytes <= 3 * (1000 + ENTRY_BYTES));
    }

    #[test]
    fn large_pages_and_a_zero_bound_keep_nothing() {
        let pages = Pages::new(1 << 20, MOST_BYTES_A_PAGE);
        pages.keep(key(1, 0), page(1, MOST_BYTES_A_PAGE + 1));
        assert!(pages.get(&key(1, 0)).is_none());

        let off = Pages::new(0, MOST_BYTES_A_PAGE);
        off.keep(key(1, 0), page(1, 10));
        assert!(off.get(&key(1, 0)).is_none());
        assert!(off.lock().entries.is_empty());
        assert_eq!((pages.largest(), off.largest()), (MOST_BYTES_A_PAGE, 0), "the longest copy each would keep");
    }

    #[test]
    fn each_kind_has_half_of_the_bound_and_its_own_largest_copy() {
        let kept = KeptAnswers::new(4 << 20);
        let list = |bytes: usize| KeptAnswer {
            stamp: BirthdayStamp { book: BookStamp(1), today: chrono::NaiveDate::MIN },
            total: None,
            body: Bytes::from(vec![b'x'; bytes]),
        };
        // A birthday list as long as a page may not be, and pages filling their half, do not
        // push each other out.
        kept.birthdays.keep((UserId(1), 7), list(MOST_BYTES_A_BIRTHDAY_LIST));
        kept.birthdays.keep((UserId(1), 30), list(MOST_BYTES_A_BIRTHDAY_LIST + 1));
        for skip in 0..64 {
            kept.pages.keep(key(1, skip), page(1, MOST_BYTES_A_PAGE));
        }
        kept.pages.keep(key(1, 64), page(1, MOST_BYTES_A_PAGE + 1));

        assert!(kept.birthdays.get(&(UserId(1), 7)).is_some());
        assert!(kept.birthdays.get(&(UserId(1), 30)).is_none(), "over the largest list kept");
        assert!(kept.pages.get(&key(1, 64)).is_none(), "over the largest page kept");
        assert!(kept.pages.get(&key(1, 0)).is_none(), "the oldest page went");
        assert!(kept.pages.get(&key(1, 63)).is_some());
        assert!(kept.pages.lock().bytes <= 2 << 20);
    }

    #[test]
    fn replacing_one_page_over_and_over_does_not_grow_the_queue() {
        let pages = Pages::new(1 << 20, MOST_BYTES_A_PAGE);
        for stamp in 0..1000 {
            pages.keep(key(1, 0), page(stamp, 10));
        }
        let kept = pages.lock();
        assert_eq!(kept.entries.len(), 1);
        assert!(kept.order.len() <= 2 + 16, "{}", kept.order.len());
    }
}
