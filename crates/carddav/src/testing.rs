//! [`MemoryBackend`]: an in-memory [`DavBackend`] with the rules storage will have (per-book
//! UID uniqueness, preconditions checked with the write, a change log with tombstones), to
//! drive black-box tests of the DAV service. Not for production: one lock, no persistence.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use contacts_domain::addressbook::{
    BookLabels, ClientProperty, HeldProperty, PropertyChange, PropertyHolder, after_changes,
};
use contacts_domain::user::UserId;

use crate::backend::{
    BackendError, BookInfo, BookLabel, Card, CardEntry, CardMeta, Change, ChangeSet, ClientOrigin, DavBackend, DavUser,
    PutOutcome, SyncToken, TextWanted, VcardVersion, WritePrecondition,
};

/// The default book every account has.
pub const DEFAULT_BOOK: &str = "contacts";

#[derive(Debug, Clone)]
struct Account {
    user: DavUser,
    email: String,
    app_password: String,
    bearer: String,
}

#[derive(Debug, Clone)]
struct StoredCard {
    text: String,
    etag: String,
    modified: SystemTime,
}

impl StoredCard {
    fn meta(&self) -> CardMeta {
        CardMeta { etag: self.etag.clone(), length: self.text.len() as u64, modified: self.modified }
    }
}

#[derive(Debug, Clone, Default)]
struct Book {
    displayname: Option<String>,
    description: Option<String>,
    is_default: bool,
    created_seq: u64,
    cards: BTreeMap<String, StoredCard>,
    /// (sequence, card name, deleted)
    log: Vec<(u64, String, bool)>,
    /// Changes up to this sequence have been compacted away: older tokens are invalid.
    forgotten_until: u64,
}

impl Book {
    /// Sets the labels given; an empty one is removed.
    fn relabel(&mut self, labels: BookLabels<'_>) {
        let stored = |value: &str| (!value.is_empty()).then(|| value.to_owned());
        if let Some(value) = labels.display_name {
            self.displayname = stored(value);
        }
        if let Some(value) = labels.description {
            self.description = stored(value);
        }
    }

    fn token(&self) -> u64 {
        self.log.last().map_or(self.created_seq, |(seq, _, _)| *seq)
    }

    /// The book's current sync token; its incarnation is the (global, never reused) number it
    /// was made at.
    fn sync_token(&self) -> SyncToken {
        SyncToken::at(self.created_seq, self.token())
    }
}

#[derive(Debug, Default)]
struct State {
    accounts: Vec<Account>,
    books: BTreeMap<(i64, String), Book>,
    seq: u64,
    list_calls: usize,
    label_writes: usize,
    failed_logins: Vec<ClientOrigin>,
    change_reads: Vec<Option<usize>>,
    /// Jobs run through `offload`.
    offloaded: usize,
    /// Whether every place for offloaded work is taken (`offload_if_free` runs nothing).
    offload_busy: bool,
    /// Listings left to read before the storage goes down (`None`: it stays up).
    listings_before_outage: Option<usize>,
    /// Properties clients keep: (user id, holder, property).
    kept: Vec<(i64, Holder, ClientProperty)>,
}

/// What keeps a property, as [`PropertyHolder`] but owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holder {
    Home,
    Book(String),
    Card(String, String),
}

impl Holder {
    fn of(holder: PropertyHolder<'_>) -> Self {
        match holder {
            PropertyHolder::Home => Self::Home,
            PropertyHolder::Book(book) => Self::Book(book.to_owned()),
            PropertyHolder::Card { book, href } => Self::Card(book.to_owned(), href.to_owned()),
        }
    }

    /// Whether it is the book `book` or one of its cards.
    fn in_book(&self, book: &str) -> bool {
        matches!(self, Self::Book(b) | Self::Card(b, _) if b == book)
    }
}

impl State {
    fn next(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn book(&mut self, user: &DavUser, name: &str) -> Result<&mut Book, BackendError> {
        self.books.get_mut(&(user.id.0, name.to_owned())).ok_or(BackendError::NotFound)
    }
}

/// An in-memory backend; clones share the same state, so a test can look inside after handing
/// one to [`crate::configure`].
#[derive(Debug, Clone, Default)]
pub struct MemoryBackend {
    state: Arc<Mutex<State>>,
}

fn uid_of(text: &str) -> Option<&str> {
    text.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.split(';').next()?;
        name.eq_ignore_ascii_case("UID").then(|| value.trim())
    })
}

fn version_of(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("VERSION:")).map(str::trim)
}

impl MemoryBackend {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds an account with its default book; returns the user.
    pub fn add_user(&self, username: &str, email: &str, app_password: &str, bearer: &str) -> DavUser {
        let mut state = self.lock();
        let user = DavUser { id: UserId(state.accounts.len() as i64 + 1), username: username.to_owned() };
        state.accounts.push(Account {
            user: user.clone(),
            email: email.to_owned(),
            app_password: app_password.to_owned(),
            bearer: bearer.to_owned(),
        });
        let seq = state.next();
        state.books.insert(
            (user.id.0, DEFAULT_BOOK.to_owned()),
            Book { displayname: Some("Contacts".into()), is_default: true, created_seq: seq, ..Book::default() },
        );
        user
    }

    /// How many pages of cards were read so far.
    pub fn list_calls(&self) -> usize {
        self.lock().list_calls
    }

    /// How many times a book's display name or description was written so far.
    pub fn label_writes(&self) -> usize {
        self.lock().label_writes
    }

    /// The origins of failed sign-ins, in order.
    pub fn failed_logins(&self) -> Vec<ClientOrigin> {
        self.lock().failed_logins.clone()
    }

    /// The limit of each read of a change log, in order: how much of it one read could hold.
    pub fn change_reads(&self) -> Vec<Option<usize>> {
        self.lock().change_reads.clone()
    }

    /// Lets `reads` more listing pages be read, then answers every later one as a storage
    /// outage would: how tests break an answer part way.
    pub fn fail_listings_after(&self, reads: usize) {
        self.lock().listings_before_outage = Some(reads);
    }

    /// Makes [`DavBackend::offload_if_free`] find every place taken (`true`) or a free one.
    pub fn set_offload_busy(&self, busy: bool) {
        self.lock().offload_busy = busy;
    }

    /// How many jobs went off the executor through [`DavBackend::offload`] or
    /// [`DavBackend::offload_if_free`].
    pub fn offloaded(&self) -> usize {
        self.lock().offloaded
    }

    /// Forgets a book's change log up to now, as a compaction would: older tokens go invalid.
    pub fn forget_changes(&self, user: &DavUser, book: &str) {
        let mut state = self.lock();
        if let Ok(book) = state.book(user, book) {
            book.forgotten_until = book.token();
        }
    }

    /// A card's stored text, to check what a write kept.
    pub fn stored(&self, user: &DavUser, book: &str, card: &str) -> Option<String> {
        let mut state = self.lock();
        state.book(user, book).ok()?.cards.get(card).map(|c| c.text.clone())
    }

    /// Stores a card directly, as a REST write or an import would.
    pub fn insert(&self, user: &DavUser, book: &str, card: &str, text: &str) {
        let mut state = self.lock();
        let seq = state.next();
        let book = state.book(user, book).expect("book exists");
        book.cards.insert(
            card.to_owned(),
            StoredCard { text: text.to_owned(), etag: format!("e{seq}"), modified: SystemTime::now() },
        );
        book.log.push((seq, card.to_owned(), false));
    }
}

fn text_for(card: &StoredCard, wanted: TextWanted) -> Option<String> {
    match wanted {
        TextWanted::No => None,
        TextWanted::AsStored => Some(card.text.clone()),
        TextWanted::Version(v) => Some(convert(&card.text, v)),
    }
}

/// A stand-in for the vCard helper's conversion: only the `VERSION` line changes.
fn convert(text: &str, version: VcardVersion) -> String {
    match version_of(text) {
        Some(current) if current != version.as_str() => {
            text.replacen(&format!("VERSION:{current}"), &format!("VERSION:{}", version.as_str()), 1)
        }
        _ => text.to_owned(),
    }
}

impl DavBackend for MemoryBackend {
    async fn authenticate_basic(
        &self,
        login: &str,
        password: &str,
        origin: &ClientOrigin,
    ) -> Result<DavUser, BackendError> {
        let mut state = self.lock();
        let found = state
            .accounts
            .iter()
            .find(|a| {
                (a.user.username.eq_ignore_ascii_case(login) || a.email.eq_ignore_ascii_case(login))
                    && a.app_password == password
            })
            .map(|a| a.user.clone());
        match found {
            Some(user) => Ok(user),
            None => {
                state.failed_logins.push(origin.clone());
                Err(BackendError::Unauthenticated)
            }
        }
    }

    async fn authenticate_bearer(&self, token: &str, origin: &ClientOrigin) -> Result<DavUser, BackendError> {
        let mut state = self.lock();
        let found = state.accounts.iter().find(|a| a.bearer == token).map(|a| a.user.clone());
        if found.is_none() {
            state.failed_logins.push(origin.clone());
        }
        found.ok_or(BackendError::Unauthenticated)
    }

    async fn refuse_unreadable(&self, origin: &ClientOrigin) -> BackendError {
        self.lock().failed_logins.push(origin.clone());
        BackendError::Unauthenticated
    }

    async fn list_books(&self, user: &DavUser) -> Result<Vec<BookInfo>, BackendError> {
        let state = self.lock();
        Ok(state
            .books
            .iter()
            .filter(|((id, _), _)| *id == user.id.0)
            .map(|((_, name), b)| BookInfo {
                name: name.clone(),
                displayname: b.displayname.clone(),
                description: b.description.clone(),
                sync_token: b.sync_token(),
                is_default: b.is_default,
            })
            .collect())
    }

    async fn book(&self, user: &DavUser, name: &str) -> Result<BookInfo, BackendError> {
        let mut state = self.lock();
        let b = state.book(user, name)?;
        Ok(BookInfo {
            name: name.to_owned(),
            displayname: b.displayname.clone(),
            description: b.description.clone(),
            sync_token: b.sync_token(),
            is_default: b.is_default,
        })
    }

    async fn create_book(
        &self,
        user: &DavUser,
        book: &str,
        labels: BookLabels<'_>,
        kept: &[PropertyChange],
    ) -> Result<(), BackendError> {
        let mut state = self.lock();
        let key = (user.id.0, book.to_owned());
        if state.books.contains_key(&key) {
            return Err(BackendError::AlreadyExists);
        }
        if !BookLabel::fit(labels) {
            return Err(BackendError::Forbidden);
        }
        let Some(kept) = after_changes(&[], kept) else {
            return Err(BackendError::Unexpected("past the bounds".into()));
        };
        let seq = state.next();
        let mut made = Book { created_seq: seq, ..Book::default() };
        made.relabel(labels);
        state.books.insert(key, made);
        state.kept.extend(kept.into_iter().map(|p| (user.id.0, Holder::Book(book.to_owned()), p)));
        Ok(())
    }

    async fn delete_book(&self, user: &DavUser, book: &str) -> Result<(), BackendError> {
        let mut state = self.lock();
        if state.book(user, book)?.is_default {
            return Err(BackendError::Forbidden);
        }
        state.books.remove(&(user.id.0, book.to_owned()));
        state.kept.retain(|(owner, holder, _)| *owner != user.id.0 || !holder.in_book(book));
        Ok(())
    }

    async fn client_properties(&self, user: &DavUser) -> Result<Vec<HeldProperty>, BackendError> {
        let state = self.lock();
        let mine = state.kept.iter().filter(|(owner, _, _)| *owner == user.id.0);
        Ok(mine
            .filter_map(|(_, holder, property)| {
                let book = match holder {
                    Holder::Home => None,
                    Holder::Book(book) => Some(book.clone()),
                    Holder::Card(..) => return None,
                };
                Some(HeldProperty { book, property: property.clone() })
            })
            .collect())
    }

    async fn card_properties(
        &self,
        user: &DavUser,
        book: &str,
        names: &[String],
    ) -> Result<Vec<(String, ClientProperty)>, BackendError> {
        let state = self.lock();
        let mine = state.kept.iter().filter(|(owner, _, _)| *owner == user.id.0);
        Ok(mine
            .filter_map(|(_, holder, property)| match holder {
                Holder::Card(b, name) if b == book && names.contains(name) => Some((name.clone(), property.clone())),
                _ => None,
            })
            .collect())
    }

    async fn change_client_properties(
        &self,
        user: &DavUser,
        holder: PropertyHolder<'_>,
        labels: BookLabels<'_>,
        changes: &[PropertyChange],
    ) -> Result<bool, BackendError> {
        let mut state = self.lock();
        if !BookLabel::fit(labels) {
            return Err(BackendError::Forbidden);
        }
        match holder {
            PropertyHolder::Book(book) => {
                state.book(user, book)?;
            }
            _ if !labels.is_none() => return Err(BackendError::Unexpected("labels are a book's only".into())),
            PropertyHolder::Home => {}
            PropertyHolder::Card { book, href } => {
                state.book(user, book)?.cards.get(href).ok_or(BackendError::NotFound)?;
            }
        }
        let holder_key = Holder::of(holder);
        let held = |(owner, by, _): &(i64, Holder, ClientProperty)| *owner == user.id.0 && *by == holder_key;
        let kept: Vec<ClientProperty> = state.kept.iter().filter(|k| held(k)).map(|(_, _, p)| p.clone()).collect();
        let Some(after) = after_changes(&kept, changes) else { return Ok(false) };
        state.kept.retain(|k| !held(k));
        state.kept.extend(after.into_iter().map(|p| (user.id.0, holder_key.clone(), p)));
        if let (PropertyHolder::Book(book), false) = (holder, labels.is_none()) {
            state.label_writes += 1;
            state.book(user, book)?.relabel(labels);
        }
        Ok(true)
    }

    async fn list_cards(
        &self,
        user: &DavUser,
        book: &str,
        after: Option<&str>,
        limit: usize,
        text: TextWanted,
    ) -> Result<Vec<CardEntry>, BackendError> {
        let mut state = self.lock();
        state.list_calls += 1;
        match &mut state.listings_before_outage {
            Some(0) => return Err(BackendError::Unavailable("the storage is down".into())),
            Some(reads) => *reads -= 1,
            None => {}
        }
        let book = state.book(user, book)?;
        Ok(book
            .cards
            .iter()
            .filter(|(name, _)| after.is_none_or(|a| name.as_str() > a))
            .take(limit)
            .map(|(name, card)| CardEntry { name: name.clone(), meta: card.meta(), text: text_for(card, text) })
            .collect())
    }

    async fn get_cards(
        &self,
        user: &DavUser,
        book: &str,
        names: &[String],
        text: TextWanted,
    ) -> Result<Vec<CardEntry>, BackendError> {
        let mut state = self.lock();
        let book = state.book(user, book)?;
        Ok(names
            .iter()
            .filter_map(|n| {
                book.cards.get(n).map(|c| CardEntry { name: n.clone(), meta: c.meta(), text: text_for(c, text) })
            })
            .collect())
    }

    async fn get_card(
        &self,
        user: &DavUser,
        book: &str,
        card: &str,
        version: Option<VcardVersion>,
    ) -> Result<Card, BackendError> {
        let mut state = self.lock();
        let stored = state.book(user, book)?.cards.get(card).ok_or(BackendError::NotFound)?;
        let text = match version {
            Some(v) if version_of(&stored.text) != Some(v.as_str()) => convert(&stored.text, v),
            _ => stored.text.clone(),
        };
        Ok(Card { text, etag: stored.etag.clone(), modified: stored.modified })
    }

    async fn put_card(
        &self,
        user: &DavUser,
        book: &str,
        card: &str,
        body: &[u8],
        precondition: &WritePrecondition,
    ) -> Result<PutOutcome, BackendError> {
        let text = std::str::from_utf8(body).map_err(|_| BackendError::InvalidCard("not UTF-8".into()))?;
        let trimmed = text.trim();
        if !trimmed.starts_with("BEGIN:VCARD") || !trimmed.ends_with("END:VCARD") {
            return Err(BackendError::InvalidCard("not a vCard".into()));
        }
        if !matches!(version_of(text), Some("3.0" | "4.0")) {
            return Err(BackendError::UnsupportedCard);
        }
        if !text.lines().any(|l| l.starts_with("FN:") || l.starts_with("FN;") || l.starts_with("N:")) {
            return Err(BackendError::InvalidCard("no name".into()));
        }
        let mut state = self.lock();
        let seq = state.next();
        let b = state.book(user, book)?;
        let current = b.cards.get(card);
        if !precondition.allows_card(current.map(|c| (c.etag.as_str(), c.modified))) {
            return Err(BackendError::PreconditionFailed);
        }
        // A card keeps its UID (RFC 6352's `no-uid-conflict`); one sent without takes it.
        let kept_uid = current.and_then(|c| uid_of(&c.text)).map(str::to_owned);
        let (stored, stored_as_sent) = match uid_of(text) {
            Some(uid) if kept_uid.as_deref().is_some_and(|kept| kept != uid) => {
                return Err(BackendError::UidConflict { existing: Some(card.to_owned()) });
            }
            Some(uid) => {
                let holder = b.cards.iter().find(|(name, c)| name.as_str() != card && uid_of(&c.text) == Some(uid));
                if let Some((name, _)) = holder {
                    return Err(BackendError::UidConflict { existing: Some(name.clone()) });
                }
                (text.to_owned(), true)
            }
            None => {
                let uid = kept_uid.unwrap_or_else(|| format!("generated-{seq}"));
                (text.replacen("END:VCARD", &format!("UID:{uid}\r\nEND:VCARD"), 1), false)
            }
        };
        let created = current.is_none();
        let etag = format!("e{seq}");
        b.cards.insert(card.to_owned(), StoredCard { text: stored, etag: etag.clone(), modified: SystemTime::now() });
        b.log.push((seq, card.to_owned(), false));
        Ok(PutOutcome { created, etag: stored_as_sent.then_some(etag) })
    }

    async fn copy_card(
        &self,
        user: &DavUser,
        from: (&str, &str),
        to: (&str, &str),
        precondition: &WritePrecondition,
    ) -> Result<PutOutcome, BackendError> {
        let text = self.lock().book(user, from.0)?.cards.get(from.1).ok_or(BackendError::NotFound)?.text.clone();
        let outcome = self.put_card(user, to.0, to.1, text.as_bytes(), precondition).await?;
        let mut state = self.lock();
        let (source, copy) =
            (Holder::Card(from.0.to_owned(), from.1.to_owned()), Holder::Card(to.0.to_owned(), to.1.to_owned()));
        let mine = |(owner, _, _): &&(i64, Holder, ClientProperty)| *owner == user.id.0;
        let copies: Vec<ClientProperty> =
            state.kept.iter().filter(mine).filter(|(_, by, _)| *by == source).map(|(_, _, p)| p.clone()).collect();
        state.kept.retain(|k| !(mine(&k) && k.1 == copy));
        state.kept.extend(copies.into_iter().map(|p| (user.id.0, copy.clone(), p)));
        Ok(outcome)
    }

    async fn move_card(
        &self,
        user: &DavUser,
        from: (&str, &str),
        to: (&str, &str),
        overwrite: bool,
        precondition: &WritePrecondition,
    ) -> Result<bool, BackendError> {
        let mut state = self.lock();
        let (arrived, gone) = (state.next(), state.next());
        state.book(user, to.0)?;
        let card = state.book(user, from.0)?.cards.get(from.1).cloned().ok_or(BackendError::NotFound)?;
        if from == to || !precondition.allows_card(Some((&card.etag, card.modified))) {
            return Err(BackendError::PreconditionFailed);
        }
        let uid = uid_of(&card.text).map(str::to_owned);
        let target = state.book(user, to.0)?;
        let created = match target.cards.get(to.1) {
            Some(_) if !overwrite => return Err(BackendError::PreconditionFailed),
            Some(there) if uid_of(&there.text).map(str::to_owned) != uid => {
                return Err(BackendError::UidConflict { existing: Some(to.1.to_owned()) });
            }
            Some(_) => false,
            None => true,
        };
        let holder = target.cards.iter().find(|(name, c)| {
            from.0 != to.0 && name.as_str() != to.1 && uid.is_some() && uid_of(&c.text) == uid.as_deref()
        });
        if let Some((name, _)) = holder {
            return Err(BackendError::UidConflict { existing: Some(name.clone()) });
        }
        target.cards.insert(to.1.to_owned(), card);
        target.log.push((arrived, to.1.to_owned(), false));
        let source = state.book(user, from.0)?;
        source.cards.remove(from.1);
        source.log.push((gone, from.1.to_owned(), true));
        // The card's properties follow it (the same contact); those of a card it replaced go.
        let (moved, replaced) =
            (Holder::Card(from.0.to_owned(), from.1.to_owned()), Holder::Card(to.0.to_owned(), to.1.to_owned()));
        state.kept.retain(|(owner, holder, _)| *owner != user.id.0 || *holder != replaced);
        for (owner, holder, _) in &mut state.kept {
            if *owner == user.id.0 && *holder == moved {
                *holder = replaced.clone();
            }
        }
        Ok(created)
    }

    async fn delete_card(
        &self,
        user: &DavUser,
        book: &str,
        card: &str,
        precondition: &WritePrecondition,
    ) -> Result<(), BackendError> {
        let mut state = self.lock();
        let seq = state.next();
        let b = state.book(user, book)?;
        let current = b.cards.get(card).ok_or(BackendError::NotFound)?;
        if !precondition.allows_card(Some((&current.etag, current.modified))) {
            return Err(BackendError::PreconditionFailed);
        }
        b.cards.remove(card);
        b.log.push((seq, card.to_owned(), true));
        let gone = Holder::Card(book.to_owned(), card.to_owned());
        state.kept.retain(|(owner, holder, _)| *owner != user.id.0 || *holder != gone);
        Ok(())
    }

    async fn changes_since(
        &self,
        user: &DavUser,
        book: &str,
        token: Option<SyncToken>,
        until: Option<u64>,
        limit: Option<usize>,
    ) -> Result<ChangeSet, BackendError> {
        let mut state = self.lock();
        state.change_reads.push(limit);
        let b = state.book(user, book)?;
        let initial = token.is_none();
        // A first sync resumes with the book's number as its horizon (see `SyncToken::horizon`).
        let (token, horizon) = match token {
            None => (b.created_seq, b.token()),
            Some(token) if token.book != b.created_seq => return Err(BackendError::InvalidSyncToken),
            Some(token) => (token.seq, token.horizon),
        };
        if horizon > b.token() || horizon < b.forgotten_until.max(b.created_seq) {
            return Err(BackendError::InvalidSyncToken);
        }
        // The latest change of each card, oldest first; one past the bound is left for the next
        // sync, as the card's single entry in the database's log would be.
        let bound = until.unwrap_or(u64::MAX).min(b.token());
        let mut latest: Vec<(u64, String, bool)> = Vec::new();
        for (seq, name, deleted) in b.log.iter().filter(|(seq, _, _)| *seq > token) {
            latest.retain(|(_, n, _)| n != name);
            latest.push((*seq, name.clone(), *deleted));
        }
        latest.retain(|(seq, _, _)| *seq <= bound);
        let truncated = limit.is_some_and(|l| latest.len() > l);
        if let Some(l) = limit {
            latest.truncate(l);
        }
        let next = if truncated { latest.last().map_or(token, |(seq, _, _)| *seq) } else { bound };
        let next = SyncToken { book: b.created_seq, seq: next, horizon: horizon.max(next) };
        let changes = latest
            .into_iter()
            .filter(|(_, _, deleted)| !(initial && *deleted))
            .map(|(_, name, deleted)| {
                let meta = if deleted { None } else { b.cards.get(&name).map(StoredCard::meta) };
                Change { name, meta }
            })
            .collect();
        Ok(ChangeSet { changes, token: next, truncated, until: bound })
    }

    async fn offload<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, BackendError> {
        self.lock().offloaded += 1;
        actix_web::rt::task::spawn_blocking(work).await.map_err(|e| BackendError::Unexpected(Box::new(e)))
    }

    async fn offload_if_free<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<Option<T>, BackendError> {
        if self.lock().offload_busy {
            return Ok(None);
        }
        self.offload(work).await.map(Some)
    }
}
