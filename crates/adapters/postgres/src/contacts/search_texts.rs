//! Big books' searchable text, kept by each instance so that a new search of such a book is
//! matched in memory and only the page's rows are read from PostgreSQL.
//!
//! A search nobody asked before (each letter typed into a search box is one) needs every match
//! found and rechecked for the exact `X-Total-Count`: in a book of 50,000 that is hundreds of
//! heap pages of `contact_search` a request, far more than the page it answers. A book of at
//! least [`MIN_CONTACTS`] that has been searched twice at the same search stamp has its three
//! fields copied once from `contact_search` (already lowered by PostgreSQL when written), about
//! 50 bytes a contact, and indexed by trigram ([`trigrams`]); the next searches find their
//! matches in that copy, then read the page's rows by key as a kept search does
//! ([`super::search_cache`]). A needle of three bytes or more is checked only against the
//! contacts holding its rarest trigram; a shorter one scans the whole copy.
//!
//! Nothing here is trusted without the owner's search stamp: the copy is read after the stamp
//! it is kept under (so it is at least that recent), and every page it answers is read in a
//! statement that reads the stamp again; a different stamp, or a missing row, drops the copy and
//! runs the full statement. A change is thus seen on the very next request, on every instance.
//!
//! Only needles of printable ASCII are matched here ([`plain`]): their lowering is ASCII's,
//! checked against PostgreSQL's own `lower()` of the alphabet when a copy is made, so the copy
//! matches what `lower(x) LIKE lower(p)` matches. Any other needle takes the full statement.
//!
//! Memory is bounded: all copies together weigh at most [`MOST_BYTES`], the least recently used
//! going first, and a book whose copy would not fit is not copied.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use memchr::memmem::Finder;
use tokio::sync::Semaphore;

use super::search::Field;
use trigrams::Trigrams;

mod trigrams;

/// The fewest contacts a book needs to be copied. A smaller book's search statement reads at
/// most a few hundred small rows, about what the copy would save: copying it would spend memory
/// for nothing.
pub(super) const MIN_CONTACTS: i64 = 1_000;

/// The most bytes all copies weigh together: a book of 50,000 contacts weighs about 3.8 MiB, a
/// third of it its index.
const MOST_BYTES: usize = 8 << 20;

/// What a copy weighs a contact besides its text: its id and where its text starts.
const CONTACT_WEIGHT: usize = 12;

/// How many full searches of one book at one stamp make it worth copying: one search may be the
/// only one, a second at the same stamp says the book is being searched.
const SEARCHES_BEFORE_COPY: u32 = 2;

/// Owners remembered for [`SearchTexts::searched`] before the memory of them starts over.
const MOST_OWNERS_SEEN: usize = 4_096;

/// Separates the fields of a contact in [`BookText::text`] (no needle matched here holds it, so
/// no match spans two fields).
const FIELD_END: u8 = 0x1f;

/// Separates contacts in [`BookText::text`].
const CONTACT_END: u8 = 0x1e;

/// A needle matched in memory: its field and its bytes, lowered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct PlainNeedle {
    pub(super) field: Field,
    pub(super) bytes: Vec<u8>,
}

/// `needle` lowered as PostgreSQL lowers it, when that is certain without asking: a non-empty
/// needle of printable ASCII (a copy is only made where PostgreSQL lowers A–Z to a–z). `None`
/// sends the search to the full statement.
pub(super) fn plain(needle: &str) -> Option<Vec<u8>> {
    let printable = !needle.is_empty() && needle.bytes().all(|b| (0x20..0x7f).contains(&b));
    printable.then(|| needle.to_ascii_lowercase().into_bytes())
}

/// The alphabet whose lowering by PostgreSQL is checked before a copy is made.
pub(super) const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// One book's searchable fields as `contact_search` holds them, in id order.
#[derive(Debug, Default)]
pub(super) struct BookText {
    /// The owner's search stamp read before the fields were.
    pub(super) stamp: i64,
    /// Every contact's id, ascending.
    ids: Vec<i64>,
    /// Every contact's first name, last name and email, each followed by [`FIELD_END`] but the
    /// last, which [`CONTACT_END`] follows.
    text: Vec<u8>,
    /// Where each contact's text starts.
    starts: Vec<u32>,
    /// The text's index, once [`BookText::index`] made it.
    trigrams: Option<Trigrams>,
}

impl BookText {
    /// An empty copy at `stamp`, to be filled with [`BookText::push`] in id order.
    pub(super) fn new(stamp: i64) -> Self {
        Self { stamp, ..Self::default() }
    }

    /// Adds a contact after those already in. `false` when the copy can no longer be used: a
    /// field holds one of the separators (its matches would be misplaced), or the copy has
    /// grown past what [`SearchTexts`] may hold.
    pub(super) fn push(&mut self, id: i64, first: &str, last: &str, email: Option<&str>) -> bool {
        let fields = [first, last, email.unwrap_or_default()];
        if fields.iter().any(|field| field.bytes().any(|b| b == FIELD_END || b == CONTACT_END)) {
            return false;
        }
        let Ok(start) = u32::try_from(self.text.len()) else { return false };
        self.ids.push(id);
        self.starts.push(start);
        for (i, field) in fields.into_iter().enumerate() {
            self.text.extend_from_slice(field.as_bytes());
            self.text.push(if i < 2 { FIELD_END } else { CONTACT_END });
        }
        self.weight() <= MOST_BYTES
    }

    /// What the copy weighs, in bytes.
    pub(super) fn weight(&self) -> usize {
        self.text.len() + self.ids.len() * CONTACT_WEIGHT + self.trigrams.as_ref().map_or(0, Trigrams::weight)
    }

    /// Indexes the copy once every contact is in, unless the index would take it past
    /// `most_bytes` (it is then searched by scanning). About a tenth of a second of CPU for a
    /// book of 50,000: not for the async executor ([`Copying::index_and_keep`]).
    fn index(&mut self, most_bytes: usize) {
        self.ids.shrink_to_fit();
        self.text.shrink_to_fit();
        self.starts.shrink_to_fit();
        let trigrams = Trigrams::build(&self.text, &self.starts);
        if self.weight() + trigrams.weight() <= most_bytes {
            self.trigrams = Some(trigrams);
        }
    }

    /// Whether [`BookText::index`] indexed the copy (for tests of the copies a repository keeps).
    #[cfg(test)]
    pub(super) fn is_indexed(&self) -> bool {
        self.trigrams.is_some()
    }

    /// The ids of the contacts matching every needle, ascending.
    pub(super) fn matches(&self, needles: &[PlainNeedle]) -> Vec<i64> {
        let mut found: Option<Vec<usize>> = None;
        for needle in needles {
            let these = self.contacts_with(needle);
            found = Some(match found {
                None => these,
                Some(before) => intersect(&before, &these),
            });
        }
        found.unwrap_or_default().into_iter().map(|contact| self.ids[contact]).collect()
    }

    /// The positions (in `ids`) of the contacts with `needle` in its field, ascending: from the
    /// index when the copy has one and the needle has a trigram, else by scanning.
    fn contacts_with(&self, needle: &PlainNeedle) -> Vec<usize> {
        match &self.trigrams {
            Some(trigrams) if needle.bytes.len() >= 3 => {
                let finder = Finder::new(&needle.bytes);
                let candidates = trigrams.candidates(&needle.bytes).into_iter().map(|contact| contact as usize);
                candidates.filter(|&contact| finder.find(self.field_text(contact, needle.field)).is_some()).collect()
            }
            _ => self.scan(needle),
        }
    }

    /// One contact's text in `field`, or all of its fields (separated) for [`Field::Any`].
    fn field_text(&self, contact: usize, field: Field) -> &[u8] {
        let end = self.starts.get(contact + 1).map_or(self.text.len(), |&end| end as usize);
        let fields = &self.text[self.starts[contact] as usize..end - 1];
        match field {
            Field::Any => fields,
            field => fields.split(|&b| b == FIELD_END).nth(field as usize).unwrap_or_default(),
        }
    }

    /// The positions (in `ids`) of the contacts with `needle` in its field, ascending, found by
    /// scanning the whole text.
    fn scan(&self, needle: &PlainNeedle) -> Vec<usize> {
        let mut found: Vec<usize> = Vec::new();
        // Occurrences come in order and none spans a separator, so each lies inside one field
        // of one contact; an occurrence overlapping an earlier one lies in the same field.
        for at in Finder::new(&needle.bytes).find_iter(&self.text) {
            let contact = self.starts.partition_point(|&start| start as usize <= at) - 1;
            if found.last() == Some(&contact) {
                continue;
            }
            let wanted = match needle.field {
                Field::Any => true,
                field => {
                    let before = &self.text[self.starts[contact] as usize..at];
                    let index = memchr::memchr_iter(FIELD_END, before).count();
                    index == field as usize
                }
            };
            if wanted {
                found.push(contact);
            }
        }
        found
    }
}

/// The elements of both ascending lists.
fn intersect(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut both = Vec::with_capacity(a.len().min(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    both
}

/// The copies kept by one instance, shared by its workers.
#[derive(Debug)]
pub(crate) struct SearchTexts {
    state: Mutex<Texts>,
    /// One copy indexed at a time, so copies of many books at once take one blocking thread.
    indexing: Semaphore,
}

impl Default for SearchTexts {
    fn default() -> Self {
        Self { state: Mutex::default(), indexing: Semaphore::new(1) }
    }
}

#[derive(Debug, Default)]
struct Texts {
    /// Each owner's copy with the tick of its last use.
    books: HashMap<i64, (u64, Arc<BookText>)>,
    /// The weight of every copy together.
    weight: usize,
    /// The clock of uses.
    tick: u64,
    /// Owners whose book the full statement searched lately, and what came of it.
    seen: HashMap<i64, Seen>,
}

/// What is known of an owner's book that has no copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// Searched by the full statement `times` at `stamp`.
    Searched { stamp: i64, times: u32 },
    /// Being copied.
    Copying,
    /// Not worth a copy (or not fit for one) at `stamp`.
    Uncopied { stamp: i64 },
}

impl Texts {
    fn drop_book(&mut self, owner: i64) {
        if let Some((_, gone)) = self.books.remove(&owner) {
            self.weight -= gone.weight();
        }
    }
}

/// The right to copy one owner's book, handed out by [`SearchTexts::searched`]; dropped without
/// [`Copying::keep`] or [`Copying::refuse`] (the copy failed, or its task went away), it lets
/// later searches try again.
#[derive(Debug)]
pub(super) struct Copying {
    texts: Arc<SearchTexts>,
    owner: i64,
}

impl Copying {
    /// The owner whose book is to be copied.
    pub(super) fn owner(&self) -> i64 {
        self.owner
    }

    /// Indexes `copy` ([`BookText::index`]) on a blocking thread, then keeps it. A copy whose
    /// indexing failed is dropped: later searches try again.
    pub(super) async fn index_and_keep(self, mut copy: BookText) {
        let texts = Arc::clone(&self.texts);
        let Ok(_turn) = texts.indexing.acquire().await else { return };
        match tokio::task::spawn_blocking(move || {
            copy.index(MOST_BYTES);
            copy
        })
        .await
        {
            Ok(copy) => self.keep(copy),
            Err(error) => tracing::warn!(error = %error, "indexing a book's copy failed; its searches read PostgreSQL"),
        }
    }

    /// Keeps `copy` in place of any earlier one, the least recently used copies going until
    /// all of them fit in [`MOST_BYTES`] (a copy heavier than that alone is refused).
    pub(super) fn keep(self, copy: BookText) {
        if copy.weight() > MOST_BYTES {
            return self.refuse(copy.stamp);
        }
        let mut texts = self.texts.lock();
        texts.seen.remove(&self.owner);
        texts.drop_book(self.owner);
        while texts.weight + copy.weight() > MOST_BYTES {
            let oldest = texts.books.iter().min_by_key(|(_, (used, _))| *used).map(|(owner, _)| *owner);
            match oldest {
                Some(owner) => texts.drop_book(owner),
                None => break,
            }
        }
        texts.tick += 1;
        texts.weight += copy.weight();
        let tick = texts.tick;
        texts.books.insert(self.owner, (tick, Arc::new(copy)));
    }

    /// Notes that the book is not to be copied while its stamp is `stamp`: too small, too big,
    /// or not fit for a copy.
    pub(super) fn refuse(self, stamp: i64) {
        self.texts.lock().seen.insert(self.owner, Seen::Uncopied { stamp });
    }
}

impl Drop for Copying {
    fn drop(&mut self) {
        let mut texts = self.texts.lock();
        if texts.seen.get(&self.owner) == Some(&Seen::Copying) {
            texts.seen.remove(&self.owner);
        }
    }
}

impl SearchTexts {
    fn lock(&self) -> std::sync::MutexGuard<'_, Texts> {
        // Every method leaves the maps consistent between statements, so a panic while holding
        // the lock leaves nothing half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The copy of `owner`'s book, if one is kept (to be checked against the stamp).
    pub(super) fn get(&self, owner: i64) -> Option<Arc<BookText>> {
        let mut texts = self.lock();
        texts.tick += 1;
        let tick = texts.tick;
        texts.books.get_mut(&owner).map(|(used, copy)| {
            *used = tick;
            Arc::clone(copy)
        })
    }

    /// Drops `owner`'s copy: the database's stamp says their book changed since.
    pub(super) fn forget(&self, owner: i64) {
        self.lock().drop_book(owner);
    }

    /// Notes that the full statement searched `owner`'s book at `stamp`; returns the right to
    /// copy it when that makes [`SEARCHES_BEFORE_COPY`] at one stamp and no copy is kept or
    /// being made.
    pub(super) fn searched(self: &Arc<Self>, owner: i64, stamp: i64) -> Option<Copying> {
        let mut texts = self.lock();
        if texts.books.contains_key(&owner) {
            return None;
        }
        if texts.seen.len() >= MOST_OWNERS_SEEN && !texts.seen.contains_key(&owner) {
            // Forgetting who searched only delays a copy; a copy in the making keeps its mark.
            texts.seen.retain(|_, seen| *seen == Seen::Copying);
        }
        let times = match texts.seen.get(&owner) {
            Some(Seen::Copying) => return None,
            Some(Seen::Uncopied { stamp: at }) if *at == stamp => return None,
            Some(Seen::Searched { stamp: at, times }) if *at == stamp => times + 1,
            _ => 1,
        };
        if times < SEARCHES_BEFORE_COPY {
            texts.seen.insert(owner, Seen::Searched { stamp, times });
            return None;
        }
        texts.seen.insert(owner, Seen::Copying);
        Some(Copying { texts: Arc::clone(self), owner })
    }
}

#[cfg(test)]
mod tests;
