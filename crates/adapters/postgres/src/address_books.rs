//! [`PgAddressBooks`]: the address-book port on PostgreSQL. The change log (`card_changes`,
//! `address_books.sync_seq`) is written by triggers on `contacts`, so this file only reads it,
//! and purges old tombstones from it.

use chrono::{DateTime, Utc};

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use contacts_domain::Error;
use contacts_domain::addressbook::{
    AddressBookStore, Book, BookChange, BookLabels, CardWrite, ClientProperty, DEFAULT_BOOK, HeldProperty, LogRange,
    NamedCard, PropertiesWrite, PropertyChange, PropertyHolder,
};
use contacts_domain::contact::{CardRecord, StoredCard};
use contacts_domain::user::UserId;

use crate::contacts::{CardRow, card_insert};
use crate::error::query_error;
use crate::pool::Database;
use crate::rows::IntoDomain;
use crate::schema::{address_books, card_changes, contacts};

#[derive(Queryable, Selectable)]
#[diesel(table_name = address_books, check_for_backend(Pg))]
struct BookRow {
    id: i64,
    name: String,
    display_name: String,
    description: String,
    sync_seq: i64,
    sync_floor: i64,
}

impl From<BookRow> for Book {
    fn from(row: BookRow) -> Self {
        Book {
            id: row.id,
            name: row.name,
            display_name: row.display_name,
            description: row.description,
            sync_seq: row.sync_seq,
            sync_floor: row.sync_floor,
        }
    }
}

/// What a write does to a card of another UID already under its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OtherUid {
    /// Refuses it (`CardWrite::UidChanged`): a `PUT` replaces a card, whose UID never changes.
    Refuse,
    /// Deletes that card and stores the new one in its place: a `COPY` that overwrites (RFC
    /// 4918 9.8.4), after which the name holds another contact.
    Replace,
}

/// Stores `record` under `to` (book, name) if `allow` accepts the card there now, in the
/// caller's transaction: what [`AddressBookStore::put_card`] did, with the id of the contact
/// written (`None` when nothing was); a card of another UID there is dealt with as `other` says.
async fn store_card(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    (book, href): (&str, &str),
    record: &CardRecord,
    allow: contacts_domain::addressbook::Precondition<'_>,
    other: OtherUid,
) -> QueryResult<(CardWrite, Option<i64>)> {
    let Some(book) = book_id(conn, owner, book).await? else { return Ok((CardWrite::Missing, None)) };
    let current = locked_card(conn, book, href).await?;
    if !allow(current.as_ref().map(|(_, card)| card)) {
        return Ok((CardWrite::Refused, None));
    }
    match current {
        Some((id, stored)) if other == OtherUid::Replace && stored.contact.uid != record.uid => {
            diesel::delete(contacts::table.find(id)).execute(conn).await?;
            let row = card_insert(owner.0, book, href.to_owned(), record);
            let id = diesel::insert_into(contacts::table).values(&row).returning(contacts::id).get_result(conn).await?;
            Ok((CardWrite::Replaced, Some(id)))
        }
        Some((id, stored)) => {
            let Some(record) = record.replacing(&stored.contact.uid) else { return Ok((CardWrite::UidChanged, None)) };
            let row = card_insert(owner.0, book, href.to_owned(), &record);
            // REST's claim on the email, kept or dropped as an import does.
            let claim = contacts::rest_email.eq(row.claim_kept());
            diesel::update(contacts::table.find(id))
                .set((&row, claim, contacts::updated_at.eq(diesel::dsl::now)))
                .execute(conn)
                .await?;
            Ok((CardWrite::Replaced, Some(id)))
        }
        None => {
            let row = card_insert(owner.0, book, href.to_owned(), record);
            let id = diesel::insert_into(contacts::table).values(&row).returning(contacts::id).get_result(conn).await?;
            Ok((CardWrite::Created, Some(id)))
        }
    }
}

/// A card write's outcome: a name taken by a concurrent writer is a refused precondition (the
/// writer judged it free), any other failure the store's.
fn card_written(outcome: QueryResult<CardWrite>) -> Result<CardWrite, Error> {
    match outcome {
        Ok(write) => Ok(write),
        Err(error) if is_href_taken(&error) => Ok(CardWrite::Refused),
        Err(error) => Err(query_error(error)),
    }
}

/// Books whose tombstones one purge transaction handles at most, so it never holds many book
/// locks (which writers of those books wait for) for long.
const PURGE_BATCH: i64 = 100;

/// Address books and their cards, always filtered by owner.
#[derive(Debug, Clone)]
pub struct PgAddressBooks {
    db: Database,
}

impl PgAddressBooks {
    /// A store on the shared pool.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// The id of the owner's book `name`.
async fn book_id(conn: &mut AsyncPgConnection, owner: UserId, name: &str) -> QueryResult<Option<i64>> {
    address_books::table
        .filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(name)))
        .select(address_books::id)
        .first(conn)
        .await
        .optional()
}

/// The card `href` of book `book`, its row locked until the transaction ends.
async fn locked_card(conn: &mut AsyncPgConnection, book: i64, href: &str) -> QueryResult<Option<(i64, StoredCard)>> {
    contacts::table
        .filter(contacts::book_id.eq(book).and(contacts::href.eq(href)))
        .select((contacts::id, CardRow::as_select()))
        .for_update()
        .first::<(i64, CardRow)>(conn)
        .await
        .optional()
        .map(|row| row.map(|(id, card)| (id, card.into())))
}

fn named(rows: Vec<(String, CardRow)>) -> Vec<NamedCard> {
    rows.into_iter().map(|(href, card)| NamedCard { href, card: card.into() }).collect()
}

/// A write that lost a race to create the same name: the other client's card is there now.
fn is_href_taken(error: &DieselError) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
        if info.constraint_name() == Some("contacts_book_href_key"))
}

/// A card write that found its name free but met a card of that name or UID when it inserted:
/// one a concurrent write committed (a unique index waits for the writer of the key it holds).
/// Tried again, the write finds that card and is judged against it as if it had come second,
/// as it did: a `PUT` of the same card twice at once replaces, one with `If-None-Match: *` is
/// refused, another UID is a conflict. A UID already taken before fails the same way twice.
fn lost_a_race(error: &DieselError) -> bool {
    matches!(error, DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)
        if matches!(info.constraint_name(), Some("contacts_book_href_key" | "contacts_book_uid_key")))
}

/// A book's row joined with one of its changes and that change's card (none for a tombstone),
/// or with nothing when no change is newer than the token.
type BookChangeRow = (BookRow, Option<(String, i64, bool)>, Option<CardRow>);

/// The book `name` and its changes after `since` (see [`AddressBookStore::changes`]), each with
/// its card, in one statement: the book's numbers, its log and the cards come from one snapshot,
/// so a purge committing meanwhile cannot raise the floor after it was read and take tombstones
/// the answer needs, and a sync costs one round trip instead of a transaction of five.
async fn changes_of(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    name: &str,
    range: LogRange,
) -> QueryResult<Option<(Book, Vec<BookChange>)>> {
    // Changes up to the book's number read in the same row (and the range's bound): a card
    // changed again since has a number past it and is listed next time.
    let newer = card_changes::book_id
        .eq(address_books::id)
        .and(card_changes::seq.gt(range.after))
        .and(card_changes::seq.le(address_books::sync_seq))
        .and(card_changes::seq.le(range.until.unwrap_or(i64::MAX)));
    let its_card = contacts::book_id
        .eq(card_changes::book_id)
        .and(contacts::href.eq(card_changes::href))
        .and(card_changes::deleted.eq(false));
    let rows: Vec<BookChangeRow> = address_books::table
        .left_join(card_changes::table.on(newer))
        .left_join(contacts::table.on(its_card))
        .filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(name)))
        .select((
            BookRow::as_select(),
            (card_changes::href, card_changes::seq, card_changes::deleted).nullable(),
            Option::<CardRow>::as_select(),
        ))
        .order(card_changes::seq)
        // Each change has at most one card, so this limits the changes.
        .limit(range.limit.unwrap_or(i64::MAX))
        .load(conn)
        .await?;
    let mut book = None;
    let mut changes = Vec::with_capacity(rows.len());
    for (row, change, card) in rows {
        book.get_or_insert(row);
        if let Some((href, seq, _)) = change {
            changes.push(BookChange { href, seq, card: card.map(Into::into) });
        }
    }
    Ok(book.map(|book| (book.into(), changes)))
}

/// How many tombstones one book lost to a purge.
#[derive(QueryableByName)]
struct Purged {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    tombstones: i64,
}

/// Purges the tombstones older than `before` of up to [`PURGE_BATCH`] books, in the caller's
/// transaction; returns how many went (0: nothing left to do now).
///
/// Each book's row is locked first, as every writer of its change log does
/// (`log_card_change`), so the purge and a write never wait on each other in opposite orders;
/// books a writer holds are skipped, not waited for, and purged on the next run.
async fn purge_batch(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<u64> {
    let old_tombstones = card_changes::table.filter(card_changes::deleted.and(card_changes::changed_at.lt(before)));
    let books: Vec<i64> = address_books::table
        .filter(address_books::id.eq_any(old_tombstones.select(card_changes::book_id)))
        .select(address_books::id)
        .order(address_books::id)
        .limit(PURGE_BATCH)
        .for_update()
        .skip_locked()
        .load(conn)
        .await?;
    if books.is_empty() {
        return Ok(0);
    }
    // The floor becomes the newest tombstone purged: a token at or past it saw every deletion
    // that is gone from the log.
    let purged: Vec<Purged> = diesel::sql_query(
        "WITH purged AS (
             DELETE FROM card_changes
             WHERE book_id = ANY($1) AND deleted AND changed_at < $2
             RETURNING book_id, seq
         ), per_book AS (
             SELECT book_id, max(seq) AS floor, count(*) AS tombstones FROM purged GROUP BY book_id
         )
         UPDATE address_books b SET sync_floor = greatest(b.sync_floor, p.floor)
         FROM per_book p WHERE b.id = p.book_id
         RETURNING p.tombstones",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&books)
    .bind::<diesel::sql_types::Timestamptz, _>(before)
    .load(conn)
    .await?;
    Ok(purged.iter().map(|p| u64::try_from(p.tombstones).unwrap_or(0)).sum())
}

impl AddressBookStore for PgAddressBooks {
    async fn books(&self, owner: UserId) -> Result<Vec<Book>, Error> {
        let mut conn = self.db.conn().await?;
        address_books::table
            .filter(address_books::user_id.eq(owner.0))
            .order((address_books::name.ne(DEFAULT_BOOK), address_books::name))
            .select(BookRow::as_select())
            .load(&mut conn)
            .await
            .into_domain()
    }

    async fn book(&self, owner: UserId, name: &str) -> Result<Option<Book>, Error> {
        let mut conn = self.db.conn().await?;
        address_books::table
            .filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(name)))
            .select(BookRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .into_domain()
    }

    async fn create_book(
        &self,
        owner: UserId,
        name: &str,
        display_name: &str,
        description: &str,
        kept: &[PropertyChange],
    ) -> Result<bool, Error> {
        self.insert_book(owner, name, (display_name, description), kept).await
    }

    async fn delete_book(&self, owner: UserId, name: &str) -> Result<bool, Error> {
        let mut conn = self.db.conn().await?;
        diesel::delete(
            address_books::table.filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(name))),
        )
        .execute(&mut conn)
        .await
        .map(|deleted| deleted > 0)
        .map_err(query_error)
    }

    async fn cards(
        &self,
        owner: UserId,
        book: &str,
        after: Option<&str>,
        limit: i64,
    ) -> Result<Option<Vec<NamedCard>>, Error> {
        let mut conn = self.db.conn().await?;
        let Some(book) = book_id(&mut conn, owner, book).await.map_err(query_error)? else { return Ok(None) };
        let mut query = contacts::table.filter(contacts::book_id.eq(book)).into_boxed();
        if let Some(after) = after {
            query = query.filter(contacts::href.gt(after));
        }
        // `COLLATE "C"` would be byte order; the unique index is in the database's collation,
        // so compare and order in that one and let the protocol layer page on what it gets.
        query
            .select((contacts::href, CardRow::as_select()))
            .order(contacts::href)
            .limit(limit)
            .load(&mut conn)
            .await
            .map(|rows| Some(named(rows)))
            .map_err(query_error)
    }

    async fn cards_named(&self, owner: UserId, book: &str, names: &[String]) -> Result<Option<Vec<NamedCard>>, Error> {
        let mut conn = self.db.conn().await?;
        let Some(book) = book_id(&mut conn, owner, book).await.map_err(query_error)? else { return Ok(None) };
        contacts::table
            .filter(contacts::book_id.eq(book).and(contacts::href.eq_any(names)))
            .select((contacts::href, CardRow::as_select()))
            .order(contacts::href)
            .load(&mut conn)
            .await
            .map(|rows| Some(named(rows)))
            .map_err(query_error)
    }

    async fn card(&self, owner: UserId, book: &str, href: &str) -> Result<Option<StoredCard>, Error> {
        let mut conn = self.db.conn().await?;
        contacts::table
            .inner_join(address_books::table)
            .filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(book)))
            .filter(contacts::href.eq(href))
            .select(CardRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .into_domain()
    }

    async fn card_named_by_uid(&self, owner: UserId, book: &str, uid: &str) -> Result<Option<String>, Error> {
        let mut conn = self.db.conn().await?;
        // By the unique key (book, uid) that refused the write.
        contacts::table
            .inner_join(address_books::table)
            .filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(book)))
            .filter(contacts::uid.eq(uid))
            .select(contacts::href)
            .first::<String>(&mut conn)
            .await
            .optional()
            .into_domain()
    }

    async fn put_card(
        &self,
        owner: UserId,
        book: &str,
        href: &str,
        record: &CardRecord,
        allow: contacts_domain::addressbook::Precondition<'_>,
    ) -> Result<CardWrite, Error> {
        let mut conn = self.db.conn().await?;
        let mut outcome = Err(DieselError::NotFound);
        for _ in 0..2 {
            outcome = conn
                .transaction::<_, DieselError, _>(async |conn| {
                    Ok(store_card(conn, owner, (book, href), record, allow, OtherUid::Refuse).await?.0)
                })
                .await;
            if !outcome.as_ref().is_err_and(lost_a_race) {
                break;
            }
        }
        card_written(outcome)
    }

    async fn copy_card(
        &self,
        owner: UserId,
        from: (&str, &str),
        to: (&str, &str),
        record: &CardRecord,
        allow: contacts_domain::addressbook::Precondition<'_>,
    ) -> Result<CardWrite, Error> {
        let mut conn = self.db.conn().await?;
        let mut outcome = Err(DieselError::NotFound);
        for _ in 0..2 {
            outcome = conn
                .transaction::<_, DieselError, _>(async |conn| {
                    // Over a card of another UID it replaces that card, as a move does.
                    let (write, id) = store_card(conn, owner, to, record, allow, OtherUid::Replace).await?;
                    if let Some(id) = id {
                        properties::copy_card_properties(conn, owner, from, id).await?;
                    }
                    Ok(write)
                })
                .await;
            if !outcome.as_ref().is_err_and(lost_a_race) {
                break;
            }
        }
        card_written(outcome)
    }

    async fn delete_card(
        &self,
        owner: UserId,
        book: &str,
        href: &str,
        allow: contacts_domain::addressbook::Precondition<'_>,
    ) -> Result<CardWrite, Error> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, DieselError, _>(async |conn| {
            let Some(book) = book_id(conn, owner, book).await? else { return Ok(CardWrite::Missing) };
            let Some((id, card)) = locked_card(conn, book, href).await? else { return Ok(CardWrite::Missing) };
            if !allow(Some(&card)) {
                return Ok(CardWrite::Refused);
            }
            diesel::delete(contacts::table.find(id)).execute(conn).await?;
            Ok(CardWrite::Created)
        })
        .await
        .map_err(query_error)
    }

    async fn move_card(
        &self,
        owner: UserId,
        from: (&str, &str),
        to: (&str, &str),
        overwrite: bool,
        allow: contacts_domain::addressbook::Precondition<'_>,
    ) -> Result<CardWrite, Error> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, DieselError, _>(async |conn| {
            let Some(source_book) = book_id(conn, owner, from.0).await? else { return Ok(CardWrite::Missing) };
            let Some(target_book) = book_id(conn, owner, to.0).await? else { return Ok(CardWrite::Missing) };
            let Some((id, card)) = locked_card(conn, source_book, from.1).await? else {
                return Ok(CardWrite::Missing);
            };
            if !allow(Some(&card)) {
                return Ok(CardWrite::Refused);
            }
            let outcome = match locked_card(conn, target_book, to.1).await? {
                // Onto itself: nothing to move (the protocol refuses it before asking).
                Some((there, _)) if there == id => return Ok(CardWrite::Refused),
                Some(_) if !overwrite => return Ok(CardWrite::Refused),
                // Overwriting deletes what was there first (RFC 4918 9.9.3), whatever its UID:
                // the name then holds another contact, not a contact with a changed UID.
                Some((there, _)) => {
                    diesel::delete(contacts::table.find(there)).execute(conn).await?;
                    CardWrite::Replaced
                }
                None => CardWrite::Created,
            };
            // One UPDATE: the log's trigger records the old name gone and the new one changed.
            diesel::update(contacts::table.find(id))
                .set((
                    contacts::book_id.eq(target_book),
                    contacts::href.eq(to.1),
                    contacts::updated_at.eq(diesel::dsl::now),
                ))
                .execute(conn)
                .await?;
            Ok(outcome)
        })
        .await
        .map_err(query_error)
    }

    async fn changes(
        &self,
        owner: UserId,
        book: &str,
        range: LogRange,
    ) -> Result<Option<(Book, Vec<BookChange>)>, Error> {
        let mut conn = self.db.conn().await?;
        changes_of(&mut conn, owner, book, range).await.map_err(query_error)
    }

    async fn client_properties(&self, owner: UserId) -> Result<Vec<HeldProperty>, Error> {
        self.read_client_properties(owner).await
    }

    async fn card_properties(
        &self,
        owner: UserId,
        book: &str,
        hrefs: &[String],
    ) -> Result<Vec<(String, ClientProperty)>, Error> {
        self.read_card_properties(owner, book, hrefs).await
    }

    async fn change_client_properties(
        &self,
        owner: UserId,
        holder: PropertyHolder<'_>,
        labels: BookLabels<'_>,
        changes: &[PropertyChange],
    ) -> Result<PropertiesWrite, Error> {
        self.write_client_properties(owner, holder, labels, changes).await
    }

    async fn purge_tombstones(&self, before: DateTime<Utc>) -> Result<u64, Error> {
        let mut conn = self.db.conn().await?;
        let mut purged = 0;
        loop {
            let batch = conn
                .transaction::<_, DieselError, _>(async |conn| purge_batch(conn, before).await)
                .await
                .map_err(query_error)?;
            if batch == 0 {
                return Ok(purged);
            }
            purged += batch;
        }
    }
}

mod properties;

#[cfg(test)]
mod tests;
