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
//! A copy long enough to gain is also sent gzip-compressed to clients that take it (`gzip`):
//! compressed off the executor the first time such a client asks for it again, and kept with it.
//!
//! Memory is bounded: the instance's bound (`LIST_CACHE_BYTES`; 0 keeps nothing) is shared
//! half and half by list pages and birthday lists, so neither kind pushes the other out; an
//! answer over its kind's largest copy ([`MOST_BYTES_A_PAGE`], [`MOST_BYTES_A_BIRTHDAY_LIST`])
//! is not kept, and the oldest copies of a kind go once they weigh more than its half (a copy
//! weighs its JSON and its compressed form together).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

use actix_web::http::header::{CONTENT_ENCODING, VARY};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, HttpResponseBuilder};
use contacts_domain::contact::{BirthdayStamp, BookStamp};
use contacts_domain::user::UserId;

use crate::CardWork;
use crate::gzip::{GZIP_AT_LEAST, TakesGzip, gzip};

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

/// A kept answer: its JSON and total, as they were at `stamp`, and the JSON gzip-compressed
/// once a client that takes gzip has asked for it again.
#[derive(Debug, Clone)]
pub(crate) struct KeptAnswer<S> {
    /// What the answer was read at.
    pub(crate) stamp: S,
    /// `X-Total-Count`, for an answer that has one.
    pub(crate) total: Option<i64>,
    /// The response body (shared, not copied, by each answer).
    pub(crate) body: Bytes,
    /// `body` compressed, once made (shared like it).
    gzip: Option<Bytes>,
}

impl<S> KeptAnswer<S> {
    /// An answer to keep, not compressed yet.
    pub(crate) fn new(stamp: S, total: Option<i64>, body: Bytes) -> Self {
        Self { stamp, total, body, gzip: None }
    }
}

/// `200` with a JSON body, and `X-Total-Count` for a list page: a list's answer, kept or not.
pub(crate) fn json_answer(total: Option<i64>, body: Bytes) -> HttpResponse {
    list_answer(total).body(body)
}

/// The head of every `200` of a list or birthday list: JSON, `X-Total-Count` for a list page,
/// and `Vary: Accept-Encoding`, since the same list may be sent compressed to another client.
pub(crate) fn list_answer(total: Option<i64>) -> HttpResponseBuilder {
    let mut response = HttpResponse::Ok();
    if let Some(total) = total {
        response.insert_header(("X-Total-Count", total.to_string()));
    }
    response.content_type("application/json").insert_header((VARY, "Accept-Encoding"));
    response
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
    answer.body.len() + answer.gzip.as_ref().map_or(0, Bytes::len) + ENTRY_BYTES
}

impl<K: Hash + Eq + Copy, S> Kept<K, S> {
    /// Lets the oldest copies go until all of them weigh at most `most_bytes`.
    fn shrink_to(&mut self, most_bytes: usize) {
        while self.bytes > most_bytes {
            let Some((oldest, number)) = self.order.pop_front() else { break };
            // An answer kept again since sits later in the queue under its new number.
            if self.entries.get(&oldest).is_some_and(|(current, _)| *current == number) {
                self.remove(&oldest);
            }
        }
    }
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
        kept.shrink_to(self.most_bytes);
        // Copies replaced in place leave their old numbers behind; drop them once they are
        // most of the queue, so it cannot grow without bound while the map stays small.
        if kept.order.len() > 2 * kept.entries.len() + 16 {
            let Kept { entries, order, .. } = &mut *kept;
            order.retain(|(key, number)| entries.get(key).is_some_and(|(current, _)| current == number));
        }
    }

    /// Adds `gzip`, the compressed form of `body`, to the kept copy of `key` if that copy is
    /// still the one with this very `body` (one kept since, or let go, gets nothing), then lets
    /// the oldest copies go if the bound is passed.
    fn add_gzip(&self, key: &K, body: &Bytes, gzip: Bytes) {
        let mut kept = self.lock();
        let Some((_, copy)) = kept.entries.get_mut(key) else { return };
        // The caller holds `body`, so its memory cannot have been reused by a newer copy.
        if copy.body.as_ptr() != body.as_ptr() || copy.gzip.is_some() {
            return;
        }
        let added = gzip.len();
        copy.gzip = Some(gzip);
        kept.bytes += added;
        kept.shrink_to(self.most_bytes);
    }

    /// The kept `copy` of `key` as the answer: compressed for a client that takes gzip when it
    /// is long enough to gain (compressed now, on `work`'s bounded pool, if no client asked for
    /// that before and a place is free, and kept so), as first sent otherwise. A compression
    /// that fails is logged and the copy goes uncompressed.
    pub(crate) async fn answer(&self, key: K, copy: KeptAnswer<S>, takes: TakesGzip, work: &CardWork) -> HttpResponse {
        if !takes.0 || copy.body.len() < GZIP_AT_LEAST {
            return json_answer(copy.total, copy.body);
        }
        let compressed = match copy.gzip {
            Some(compressed) => compressed,
            None => {
                let body = copy.body.clone();
                match work.run_if_free(move || gzip(&body)).await {
                    Some(Ok(Ok(compressed))) => {
                        self.add_gzip(&key, &copy.body, compressed.clone());
                        compressed
                    }
                    // Every place is taken (imports, exports): the next request compresses it.
                    None => return json_answer(copy.total, copy.body),
                    Some(Ok(Err(error))) => return uncompressed(copy, &error),
                    Some(Err(error)) => return uncompressed(copy, &*error),
                }
            }
        };
        list_answer(copy.total).insert_header((CONTENT_ENCODING, "gzip")).body(compressed)
    }
}

/// `copy` as first sent, after a compression that failed (logged: it never should).
fn uncompressed<S>(copy: KeptAnswer<S>, error: &dyn std::error::Error) -> HttpResponse {
    tracing::warn!(error = %crate::error::chain(error), "a kept answer could not be compressed; sent as it is");
    json_answer(copy.total, copy.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Pages = Copies<PageKey, BookStamp>;

    fn page(stamp: i64, bytes: usize) -> KeptAnswer<BookStamp> {
        KeptAnswer::new(BookStamp(stamp), Some(7), Bytes::from(vec![b'x'; bytes]))
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
        let list = |bytes: usize| {
            let stamp = BirthdayStamp { book: BookStamp(1), today: chrono::NaiveDate::MIN };
            KeptAnswer::new(stamp, None, Bytes::from(vec![b'x'; bytes]))
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

    /// A body that compresses well, `bytes` long.
    fn json_page(stamp: i64, bytes: usize) -> KeptAnswer<BookStamp> {
        let text = br#"{"first_name":"Ann","last_name":"B"},"#.iter().copied().cycle().take(bytes).collect::<Vec<_>>();
        KeptAnswer::new(BookStamp(stamp), Some(7), Bytes::from(text))
    }

    fn header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
        response.headers().get(name).map(|value| value.to_str().unwrap())
    }

    fn encoding(response: &HttpResponse) -> Option<&str> {
        header(response, CONTENT_ENCODING.as_str())
    }

    #[tokio::test]
    async fn a_copy_is_compressed_once_for_clients_that_take_gzip_and_weighs_with_it() {
        let (pages, work) = (Pages::new(1 << 20, MOST_BYTES_A_PAGE), CardWork::new(1));
        pages.keep(key(1, 0), json_page(5, 8000));
        let copy = pages.get(&key(1, 0)).unwrap();

        let plain = pages.answer(key(1, 0), copy.clone(), TakesGzip(false), &work).await;
        assert_eq!(encoding(&plain), None);
        assert!(pages.get(&key(1, 0)).unwrap().gzip.is_none(), "nothing compressed for a client that takes none");

        let compressed = pages.answer(key(1, 0), copy, TakesGzip(true), &work).await;
        assert_eq!(encoding(&compressed), Some("gzip"));
        assert_eq!(header(&compressed, VARY.as_str()), Some("Accept-Encoding"));
        assert_eq!(header(&compressed, "X-Total-Count"), Some("7"));
        let kept = pages.get(&key(1, 0)).unwrap();
        let gzip = kept.gzip.clone().expect("kept with the copy");
        assert!(gzip.len() < 800, "{}", gzip.len());
        assert_eq!(pages.lock().bytes, 8000 + gzip.len() + ENTRY_BYTES);

        // Asked again: the kept form, not a new compression.
        let again = pages.answer(key(1, 0), kept, TakesGzip(true), &work).await;
        let body = actix_web::body::MessageBody::try_into_bytes(again.into_body()).unwrap();
        assert_eq!(body.as_ptr(), gzip.as_ptr());
    }

    #[tokio::test]
    async fn short_copies_are_sent_as_they_are() {
        let (pages, work) = (Pages::new(1 << 20, MOST_BYTES_A_PAGE), CardWork::new(1));
        pages.keep(key(1, 0), json_page(5, GZIP_AT_LEAST - 1));
        let copy = pages.get(&key(1, 0)).unwrap();
        let response = pages.answer(key(1, 0), copy, TakesGzip(true), &work).await;
        assert_eq!(encoding(&response), None);
        assert_eq!(header(&response, VARY.as_str()), Some("Accept-Encoding"));
        assert!(pages.get(&key(1, 0)).unwrap().gzip.is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_copy_goes_as_it_is_while_every_place_to_compress_is_taken() {
        let (pages, work) = (Pages::new(1 << 20, MOST_BYTES_A_PAGE), CardWork::new(1));
        pages.keep(key(1, 0), json_page(5, 8000));
        let (finish, import) = crate::card_work::place_held(&work).await;

        let busy = pages.answer(key(1, 0), pages.get(&key(1, 0)).unwrap(), TakesGzip(true), &work).await;
        assert_eq!(encoding(&busy), None, "not queued behind the import");
        assert!(pages.get(&key(1, 0)).unwrap().gzip.is_none());

        finish.send(()).unwrap();
        import.await.unwrap().unwrap();
        let free = pages.answer(key(1, 0), pages.get(&key(1, 0)).unwrap(), TakesGzip(true), &work).await;
        assert_eq!(encoding(&free), Some("gzip"));
    }

    #[test]
    fn a_compressed_form_goes_only_to_the_copy_it_was_made_from() {
        let pages = Pages::new(1 << 20, MOST_BYTES_A_PAGE);
        pages.keep(key(1, 0), json_page(5, 2000));
        let older = pages.get(&key(1, 0)).unwrap();
        pages.keep(key(1, 0), json_page(6, 2000));

        pages.add_gzip(&key(1, 0), &older.body, Bytes::from_static(b"older"));
        assert!(pages.get(&key(1, 0)).unwrap().gzip.is_none(), "the copy kept since is not the one compressed");
        pages.add_gzip(&key(1, 1), &older.body, Bytes::from_static(b"older"));
        assert!(pages.get(&key(1, 1)).is_none());

        let current = pages.get(&key(1, 0)).unwrap();
        pages.add_gzip(&key(1, 0), &current.body, Bytes::from_static(b"newer"));
        pages.add_gzip(&key(1, 0), &current.body, Bytes::from_static(b"twice"));
        assert_eq!(pages.get(&key(1, 0)).unwrap().gzip.unwrap(), "newer");
        assert_eq!(pages.lock().bytes, 2000 + 5 + ENTRY_BYTES, "counted once");
    }

    #[test]
    fn a_compressed_form_that_passes_the_bound_lets_the_oldest_copy_go() {
        let pages = Pages::new(2 * (1000 + ENTRY_BYTES), MOST_BYTES_A_PAGE);
        pages.keep(key(1, 0), page(1, 1000));
        pages.keep(key(1, 1), page(1, 1000));
        let newest = pages.get(&key(1, 1)).unwrap();
        pages.add_gzip(&key(1, 1), &newest.body, Bytes::from(vec![0; 100]));
        assert!(pages.get(&key(1, 0)).is_none(), "the oldest went");
        assert!(pages.get(&key(1, 1)).unwrap().gzip.is_some());
        assert_eq!(pages.lock().bytes, 1000 + 100 + ENTRY_BYTES);
    }
}
