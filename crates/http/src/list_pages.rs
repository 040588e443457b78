//! [`ListPages`]: the JSON of recent list pages, kept by each instance so that a page asked for
//! again is neither read from the database nor written out again while the book is unchanged.
//!
//! A page of the whole book is the same answer until one of the owner's contacts changes. Each
//! copy is kept with the book stamp it was read at; the next request for the same page sends
//! that stamp, PostgreSQL's book stamp is read by key, and while the two are the same the copy
//! is the answer, and no contact is read (see
//! [`ContactService::list_since`](contacts_domain::contact::ContactService::list_since)). Nothing
//! here is trusted without that check, so a change made through any instance, REST, CardDAV or
//! an import, shows on the very next request.
//!
//! Memory is bounded: a page whose JSON is over [`MOST_BYTES_A_PAGE`] is not kept, and the
//! oldest copies go once all of them weigh more than the bound the instance was built with
//! (`LIST_CACHE_BYTES`; 0 keeps nothing).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use actix_web::web::Bytes;
use contacts_domain::contact::BookStamp;
use contacts_domain::user::UserId;

/// The largest page kept, in bytes of JSON: a default page of 100 contacts is about 40 KiB.
/// Larger pages are rare, and each would push out many small ones.
pub(crate) const MOST_BYTES_A_PAGE: usize = 64 * 1024;

/// What a copy weighs besides its JSON: its map and queue slots and the key kept twice.
const ENTRY_BYTES: usize = 96;

/// Which page: its owner, `skip` and `limit`.
pub(crate) type PageKey = (UserId, i64, i64);

/// A kept page: its JSON and total, as they were at `stamp`.
#[derive(Debug, Clone)]
pub(crate) struct KeptPage {
    /// The owner's book stamp when the page was read.
    pub(crate) stamp: BookStamp,
    /// `X-Total-Count`.
    pub(crate) total: i64,
    /// The response body (shared, not copied, by each answer).
    pub(crate) body: Bytes,
}

/// The pages kept by one instance, shared by its workers.
#[derive(Debug)]
pub struct ListPages {
    /// The most all copies may weigh together, in bytes.
    most_bytes: usize,
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Each page with the number it was kept under (to tell it from an earlier copy of the same
    /// page still waiting in `order`).
    entries: HashMap<PageKey, (u64, KeptPage)>,
    /// Pages in the order they were kept, oldest first, with their numbers.
    order: VecDeque<(PageKey, u64)>,
    /// What every copy weighs together.
    bytes: usize,
    /// The number of the next copy.
    next: u64,
}

impl Kept {
    fn remove(&mut self, key: &PageKey) {
        if let Some((_, gone)) = self.entries.remove(key) {
            self.bytes -= weight(&gone);
        }
    }
}

fn weight(page: &KeptPage) -> usize {
    page.body.len() + ENTRY_BYTES
}

impl ListPages {
    /// Copies weighing at most `most_bytes` together (0: none is kept).
    pub fn new(most_bytes: usize) -> Self {
        Self { most_bytes, kept: Mutex::default() }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // The map is consistent after every statement of the methods below, so a panic while
        // holding the lock leaves nothing half done.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kept copy of the page, if any (to be checked against the book's stamp).
    pub(crate) fn get(&self, key: &PageKey) -> Option<KeptPage> {
        if self.most_bytes == 0 {
            return None;
        }
        self.lock().entries.get(key).map(|(_, page)| page.clone())
    }

    /// Keeps `page` in place of any earlier copy of the same page, then lets the oldest copies
    /// go until all of them are within the bound.
    pub(crate) fn keep(&self, key: PageKey, page: KeptPage) {
        if page.body.len() > MOST_BYTES_A_PAGE || weight(&page) > self.most_bytes {
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
            // A page kept again since sits later in the queue under its new number.
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

    fn page(stamp: i64, bytes: usize) -> KeptPage {
        KeptPage { stamp: BookStamp(stamp), total: 7, body: Bytes::from(vec![b'x'; bytes]) }
    }

    fn key(owner: i64, skip: i64) -> PageKey {
        (UserId(owner), skip, 20)
    }

    #[test]
    fn a_kept_page_comes_back_with_its_stamp_until_replaced() {
        let pages = ListPages::new(1 << 20);
        assert!(pages.get(&key(1, 0)).is_none());

        pages.keep(key(1, 0), page(5, 100));
        let kept = pages.get(&key(1, 0)).unwrap();
        assert_eq!((kept.stamp, kept.total, kept.body.len()), (BookStamp(5), 7, 100));
        assert!(pages.get(&key(1, 20)).is_none(), "another page");
        assert!(pages.get(&key(2, 0)).is_none(), "another owner");

        pages.keep(key(1, 0), page(6, 50));
        assert_eq!(pages.get(&key(1, 0)).unwrap().stamp, BookStamp(6));
        assert_eq!(pages.lock().bytes, 50 + ENTRY_BYTES, "the replaced copy no longer counts");
    }

    #[test]
    fn the_oldest_copies_go_first_once_the_bound_is_passed() {
        let pages = ListPages::new(3 * (1000 + ENTRY_BYTES));
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
        let pages = ListPages::new(1 << 20);
        pages.keep(key(1, 0), page(1, MOST_BYTES_A_PAGE + 1));
        assert!(pages.get(&key(1, 0)).is_none());

        let off = ListPages::new(0);
        off.keep(key(1, 0), page(1, 10));
        assert!(off.get(&key(1, 0)).is_none());
        assert!(off.lock().entries.is_empty());
    }

    #[test]
    fn replacing_one_page_over_and_over_does_not_grow_the_queue() {
        let pages = ListPages::new(1 << 20);
        for stamp in 0..1000 {
            pages.keep(key(1, 0), page(stamp, 10));
        }
        let kept = pages.lock();
        assert_eq!(kept.entries.len(), 1);
        assert!(kept.order.len() <= 2 + 16, "{}", kept.order.len());
    }
}
