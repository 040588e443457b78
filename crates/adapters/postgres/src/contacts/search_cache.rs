//! Recent searches' match ids, kept by each instance so that paging through a search, or asking
//! it again, reads only the page's rows instead of every match.
//!
//! An exact `X-Total-Count` needs every match of a search read and rechecked (the trigram index
//! only narrows the candidates): for `q=ann` in a book of 50,000 that is 1,734 rows a request.
//! The full statement therefore also returns the ordered ids of all the matches and the owner's
//! *search stamp* (`contact_counts.version + search_version`, migration
//! `2026-12-02-000100_search_stamp`), read in the same snapshot. While a later statement reads
//! the same stamp, no contact of the owner has been inserted, deleted or had a searchable field
//! changed, by this instance or any other, so the kept ids are still the matches in order.
//!
//! Nothing here is trusted without that check: the page statement reads the stamp along with
//! the page's rows, and a different stamp (or a missing row) drops the entry and runs the full
//! statement. A change is thus seen on the very next request, on every instance.
//!
//! Memory is bounded: a search with more than [`MOST_IDS_A_SEARCH`] matches is not kept, and
//! the oldest entries go once all of them weigh more than [`MOST_IDS`] ids (8 bytes each), an
//! entry weighing its ids, its needles' bytes and a little for itself. The needles count because
//! the service does not limit their length: a long needle that matches a long name of the
//! owner's own cards would otherwise be kept for the weight of a short one. One owner's entries
//! weigh at most [`OWNER_SHARE`]: a user asking search after search pushes out their own oldest
//! searches, not everyone's.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

/// The most matches a kept search may have. Above this the full statement does not send its ids
/// either (a search that broad is a first letter or two being typed, not one paged through).
pub(super) const MOST_IDS_A_SEARCH: usize = 16_384;

/// The most ids all kept searches weigh together, 2 MiB; an entry also counts its needles and
/// [`ENTRY_WEIGHT`] for itself, so many searches with few matches are bounded too.
const MOST_IDS: usize = 262_144;

/// The most one owner's kept searches weigh together, a quarter of [`MOST_IDS`]: room for three
/// searches of [`MOST_IDS_A_SEARCH`] matches each, or about a hundred of 500 matches, while the
/// other users of the instance keep the rest.
const OWNER_SHARE: usize = MOST_IDS / 4;

/// What an entry weighs besides its ids and its needles' bytes, in ids: its map and queue slots
/// and the key kept twice (map and queue).
const ENTRY_WEIGHT: usize = 32;

/// What identifies a search: its owner and its needles (field and pattern), in a fixed order.
pub(super) type SearchKey = (i64, Vec<(u8, String)>);

/// A kept search: its matches in id order, valid while the owner's stamp is `stamp`.
#[derive(Debug, Clone)]
pub(super) struct KeptSearch {
    /// The owner's search stamp when the ids were read.
    pub(super) stamp: i64,
    /// Every match's id, ascending.
    pub(super) ids: Arc<[i64]>,
    /// What the entry weighs, in ids ([`weight`]).
    weight: usize,
}

impl KeptSearch {
    /// The ids of the page at `skip` of at most `limit`, or `None` when the page is past the
    /// end (which the full statement answers, since it has no row to check the stamp on).
    pub(super) fn page(&self, skip: i64, limit: i64) -> Option<&[i64]> {
        Some(page_of(&self.ids, skip, limit)).filter(|ids| !ids.is_empty())
    }
}

/// The ids of the page at `skip` of at most `limit` among `ids` (empty past the end).
pub(super) fn page_of(ids: &[i64], skip: i64, limit: i64) -> &[i64] {
    let start = usize::try_from(skip).unwrap_or(usize::MAX).min(ids.len());
    let end = start.saturating_add(usize::try_from(limit).unwrap_or(0)).min(ids.len());
    &ids[start..end]
}

/// The searches kept by one instance, shared by its workers.
#[derive(Debug, Default)]
pub(crate) struct SearchCache {
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Each search with the number it was kept under (to tell it from an earlier entry of the
    /// same key still waiting in `order`).
    entries: HashMap<SearchKey, (u64, KeptSearch)>,
    /// Keys in the order they were kept, oldest first, with their numbers.
    order: VecDeque<(SearchKey, u64)>,
    /// The weight of every entry together.
    weight: usize,
    /// The weight of each owner's entries (owners with none are not in the map).
    owners: HashMap<i64, usize>,
    /// The number of the next entry.
    next: u64,
}

impl Kept {
    fn remove(&mut self, key: &SearchKey) {
        if let Some((_, gone)) = self.entries.remove(key) {
            self.weight -= gone.weight;
            if let Some(owned) = self.owners.get_mut(&key.0) {
                *owned -= gone.weight;
                if *owned == 0 {
                    self.owners.remove(&key.0);
                }
            }
        }
    }

    /// Drops `owner`'s oldest entry, with its place in the queue; `false` when they have none.
    fn remove_oldest_of(&mut self, owner: i64) -> bool {
        let live = self.order.iter().position(|(key, number)| {
            key.0 == owner && self.entries.get(key).is_some_and(|(current, _)| current == number)
        });
        match live.and_then(|at| self.order.remove(at)) {
            Some((key, _)) => {
                self.remove(&key);
                true
            }
            None => false,
        }
    }
}

/// What keeping `ids` under `key` weighs, in ids (8 bytes): the ids, the needles' bytes twice
/// (the key is in the map and in the queue), and [`ENTRY_WEIGHT`].
fn weight(key: &SearchKey, ids: usize) -> usize {
    let needle_bytes: usize = key.1.iter().map(|(_, pattern)| pattern.len() + 1).sum();
    ids + (2 * needle_bytes).div_ceil(8) + ENTRY_WEIGHT
}

impl SearchCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // The map is consistent after every statement of the methods below, so a panic while
        // holding the lock leaves nothing half done.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kept search of `key`, if any (to be checked against the database's stamp).
    pub(super) fn get(&self, key: &SearchKey) -> Option<KeptSearch> {
        self.lock().entries.get(key).map(|(_, search)| search.clone())
    }

    /// Keeps `ids`, the matches of `key` at `stamp`, in place of any earlier entry, then lets
    /// the oldest entries go until the cache is within its bound.
    pub(super) fn keep(&self, key: SearchKey, stamp: i64, ids: Vec<i64>) {
        if ids.len() > MOST_IDS_A_SEARCH {
            return;
        }
        let search = KeptSearch { stamp, weight: weight(&key, ids.len()), ids: ids.into() };
        if search.weight > OWNER_SHARE {
            return;
        }
        let mut kept = self.lock();
        kept.remove(&key);
        let owner = key.0;
        let number = kept.next;
        kept.next += 1;
        kept.weight += search.weight;
        *kept.owners.entry(owner).or_default() += search.weight;
        kept.order.push_back((key.clone(), number));
        kept.entries.insert(key, (number, search));
        // The owner's own oldest first, down to their share; the new entry alone fits in it.
        while kept.owners.get(&owner).is_some_and(|&owned| owned > OWNER_SHARE) {
            if !kept.remove_oldest_of(owner) {
                break;
            }
        }
        while kept.weight > MOST_IDS {
            let Some((oldest, number)) = kept.order.pop_front() else { break };
            if kept.entries.get(&oldest).is_some_and(|(current, _)| *current == number) {
                kept.remove(&oldest);
            }
        }
        // Keys kept again leave their earlier numbers in the queue; drop them before they
        // outnumber the entries.
        if kept.order.len() > 2 * kept.entries.len() + 64 {
            let Kept { entries, order, .. } = &mut *kept;
            order.retain(|(key, number)| entries.get(key).is_some_and(|(current, _)| current == number));
        }
    }

    /// Drops the entry of `key`: the database said its matches changed.
    pub(super) fn forget(&self, key: &SearchKey) {
        self.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(owner: i64, needle: &str) -> SearchKey {
        (owner, vec![(3, format!("%{needle}%"))])
    }

    #[test]
    fn a_page_is_a_slice_of_the_ids_and_none_past_the_end() {
        let search = KeptSearch { stamp: 1, ids: vec![10, 20, 30, 40, 50].into(), weight: 0 };
        assert_eq!(search.page(0, 2), Some(&[10, 20][..]));
        assert_eq!(search.page(3, 20), Some(&[40, 50][..]));
        assert_eq!(search.page(4, 1), Some(&[50][..]));
        assert_eq!(search.page(5, 20), None);
        assert_eq!(search.page(i64::MAX, 20), None);
        assert_eq!(search.page(0, 0), None);
    }

    #[test]
    fn a_search_is_kept_per_owner_and_needles_and_replaced_when_kept_again() {
        let cache = SearchCache::default();
        cache.keep(key(1, "ann"), 7, vec![1, 2, 3]);
        assert_eq!(cache.get(&key(1, "ann")).map(|s| (s.stamp, s.ids.to_vec())), Some((7, vec![1, 2, 3])));
        assert!(cache.get(&key(2, "ann")).is_none(), "another owner's search");
        assert!(cache.get(&key(1, "an")).is_none(), "another needle");

        cache.keep(key(1, "ann"), 8, vec![2, 3]);
        assert_eq!(cache.get(&key(1, "ann")).map(|s| (s.stamp, s.ids.to_vec())), Some((8, vec![2, 3])));
        assert_eq!(cache.lock().weight, weight(&key(1, "ann"), 2));

        cache.forget(&key(1, "ann"));
        assert!(cache.get(&key(1, "ann")).is_none());
        assert_eq!(cache.lock().weight, 0);
    }

    #[test]
    fn a_search_with_too_many_matches_is_not_kept() {
        let cache = SearchCache::default();
        cache.keep(key(1, "a"), 1, (0..=MOST_IDS_A_SEARCH as i64).collect());
        assert!(cache.get(&key(1, "a")).is_none());
        cache.keep(key(1, "a"), 1, (0..MOST_IDS_A_SEARCH as i64).collect());
        assert!(cache.get(&key(1, "a")).is_some());
    }

    #[test]
    fn the_oldest_searches_go_once_the_ids_are_over_the_bound() {
        let cache = SearchCache::default();
        let per_search = MOST_IDS_A_SEARCH;
        let fit = MOST_IDS / weight(&key(0, "ann"), per_search);
        for owner in 0..=fit as i64 {
            cache.keep(key(owner, "ann"), 1, vec![owner; per_search]);
        }
        assert!(cache.get(&key(0, "ann")).is_none(), "the oldest went");
        for owner in 1..=fit as i64 {
            assert!(cache.get(&key(owner, "ann")).is_some(), "owner {owner} is kept");
        }
        assert!(cache.lock().weight <= MOST_IDS);
    }

    #[test]
    fn one_owners_many_searches_push_out_their_own_oldest_not_anothers() {
        let cache = SearchCache::default();
        cache.keep(key(1, "kept"), 1, vec![1, 2, 3]);
        // Owner 2 asks more searches than the whole cache holds, each one new.
        let per_search = 10_000;
        for i in 0..(MOST_IDS / per_search + 5) {
            cache.keep(key(2, &format!("n{i}")), 1, vec![7; per_search]);
        }
        assert!(cache.get(&key(1, "kept")).is_some(), "another owner's search stays");
        let last = MOST_IDS / per_search + 4;
        assert!(cache.get(&key(2, &format!("n{last}"))).is_some(), "the latest is kept");
        assert!(cache.get(&key(2, "n0")).is_none(), "the owner's oldest went");
        let kept = cache.lock();
        let owned: usize = kept.entries.iter().filter(|(k, _)| k.0 == 2).map(|(_, (_, s))| s.weight).sum();
        assert!(owned <= OWNER_SHARE, "owner 2 holds {owned}");
        assert_eq!(kept.owners.get(&2), Some(&owned));
        assert_eq!(kept.weight, owned + weight(&key(1, "kept"), 3));
        assert_eq!(kept.order.len(), kept.entries.len(), "no stale places left in the queue");
    }

    #[test]
    fn long_needles_weigh_their_bytes() {
        let cache = SearchCache::default();
        // Needles of 100 KiB matching one contact each: twenty of them already weigh more than
        // every id the cache may hold, so only the latest few are kept.
        let long = |i: u8| (1, vec![(0, char::from(b'a' + i).to_string().repeat(100 * 1024))]);
        for i in 0..20 {
            cache.keep(long(i), 1, vec![1]);
        }
        let kept = cache.lock();
        assert!(kept.weight <= MOST_IDS, "weight {}", kept.weight);
        assert!(kept.entries.len() < 20 && !kept.entries.is_empty(), "{} kept", kept.entries.len());
        assert!(kept.entries.contains_key(&long(19)), "the latest is kept");
    }

    #[test]
    fn keeping_one_search_again_and_again_neither_evicts_others_nor_grows_the_queue() {
        let cache = SearchCache::default();
        cache.keep(key(1, "first"), 1, vec![1]);
        for stamp in 0..10_000 {
            cache.keep(key(2, "again"), stamp, vec![1, 2]);
        }
        assert!(cache.get(&key(1, "first")).is_some());
        let kept = cache.lock();
        assert_eq!(kept.entries.len(), 2);
        assert!(kept.order.len() <= 2 * 2 + 64 + 1, "queue of {}", kept.order.len());
    }
}
