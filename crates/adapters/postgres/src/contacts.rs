//! [`PgContactRepository`]: the contact port on PostgreSQL.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::QueryFragment;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::methods::LoadQuery;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use contacts_domain::Error;
use contacts_domain::contact::{
    BirthdayProbe, BookStamp, CardRecord, Contact, ContactFilter, ContactId, ContactPatch, ContactRepository,
    ImportOutcome, Listed, MonthDay, NewContact, Page, StoredCard, TypedValue,
};
use contacts_domain::user::UserId;
use serde_json::Value;

use crate::error::query_error;
use crate::pool::Database;
use crate::rows::IntoDomain;
use crate::schema::{address_books, contact_counts, contacts};
use search_cache::SearchCache;
use search_texts::{BookText, Copying, SearchTexts};
use typed_values::{JsonValues, single, typed_json};
use update::UpdateContact;

#[derive(Queryable, Selectable)]
#[diesel(table_name = contacts, check_for_backend(Pg))]
pub(crate) struct ContactRow {
    id: i64,
    uid: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
    phone: Option<String>,
    birthday: Option<NaiveDate>,
    birthday_md: Option<i16>,
    additional_info: Option<String>,
    #[diesel(deserialize_as = JsonValues)]
    emails: Vec<TypedValue>,
    #[diesel(deserialize_as = JsonValues)]
    phones: Vec<TypedValue>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ContactRow> for Contact {
    fn from(row: ContactRow) -> Self {
        Contact {
            id: ContactId(row.id),
            uid: row.uid,
            first_name: row.first_name,
            last_name: row.last_name,
            email: row.email,
            phone: row.phone,
            birthday: row.birthday,
            birthday_md: row.birthday_md.map(month_day),
            additional_info: row.additional_info,
            emails: row.emails,
            phones: row.phones,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A contact with its card, for vCard reads.
#[derive(Queryable, Selectable)]
#[diesel(table_name = contacts, check_for_backend(Pg))]
pub(crate) struct CardRow {
    #[diesel(embed)]
    contact: ContactRow,
    card: String,
    card_dirty: bool,
}

impl From<CardRow> for StoredCard {
    fn from(row: CardRow) -> Self {
        StoredCard { contact: row.contact.into(), card: row.card, dirty: row.card_dirty }
    }
}

/// `month * 100 + day`, the `birthday_md` column.
fn md_code(md: MonthDay) -> i16 {
    (md.month * 100 + md.day) as i16
}

/// The month and day of a `birthday_md` value.
fn month_day(code: i16) -> MonthDay {
    MonthDay { month: (code / 100) as u32, day: (code % 100) as u32 }
}

/// A fresh random UID (a version 4 UUID) for a contact made through REST.
fn new_uid() -> Result<String, Error> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::unexpected(e.to_string()))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]))
}

/// The card a REST-made contact starts with: its mapped properties are written in from the
/// columns when it is read (`card_dirty`), so the insert stays one fixed statement.
const REST_CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nEND:VCARD\r\n";

/// The name of the address book REST creates in.
const DEFAULT_BOOK: &str = "contacts";

/// One imported card as a row (also the changes a CardDAV `PUT` makes to an existing row).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = contacts, treat_none_as_default_value = false, treat_none_as_null = true)]
pub(crate) struct CardInsert<'a> {
    user_id: i64,
    book_id: i64,
    uid: &'a str,
    href: String,
    card: &'a str,
    card_dirty: bool,
    first_name: &'a str,
    last_name: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    birthday: Option<NaiveDate>,
    birthday_md: Option<i16>,
    additional_info: Option<&'a str>,
    emails: Value,
    phones: Value,
    /// Set on insert only (a card's row claims no email for REST); an update of an existing
    /// row keeps or drops the claim with [`claim_kept`].
    #[diesel(skip_update)]
    rest_email: Option<&'a str>,
}

/// `rest_email` after a card write (a CardDAV `PUT` or an import) replaced a row: a contact REST
/// made keeps its claim on its email, for REST's "one contact per email" rule, while the card
/// still has that email first (ignoring case), so a phone syncing it back does not free the
/// email for a second REST contact; otherwise the claim is dropped. The `CASE` is completed by
/// the card's first email: `excluded.email` in an upsert, a bound value in an update.
const CLAIM_KEPT: (&str, &str) = ("CASE WHEN lower(", ") = lower(contacts.rest_email) THEN contacts.rest_email END");

/// [`CLAIM_KEPT`] in an upsert, where the card's row is `excluded`.
fn claim_kept_on_conflict() -> diesel::expression::SqlLiteral<Nullable<Text>> {
    diesel::dsl::sql::<Nullable<Text>>(&format!("{}excluded.email{}", CLAIM_KEPT.0, CLAIM_KEPT.1))
}

/// [`CLAIM_KEPT`] completed by a bound email.
type BoundClaim = diesel::expression::SqlLiteral<
    Nullable<Text>,
    diesel::expression::UncheckedBind<
        diesel::expression::SqlLiteral<Nullable<Text>>,
        diesel::dsl::AsExprOf<Option<String>, Nullable<Text>>,
    >,
>;

impl CardInsert<'_> {
    /// [`CLAIM_KEPT`] in an update of an existing row to this card.
    pub(crate) fn claim_kept(&self) -> BoundClaim {
        diesel::dsl::sql::<Nullable<Text>>(CLAIM_KEPT.0)
            .bind::<Nullable<Text>, _>(self.email.map(str::to_owned))
            .sql(CLAIM_KEPT.1)
    }
}

/// A card as a row of `book`, named `href`, stored byte for byte (not dirty).
pub(crate) fn card_insert(owner: i64, book: i64, href: String, c: &CardRecord) -> CardInsert<'_> {
    let v = &c.view;
    CardInsert {
        user_id: owner,
        book_id: book,
        uid: &c.uid,
        href,
        card: &c.card,
        card_dirty: false,
        first_name: &v.first_name,
        last_name: &v.last_name,
        email: <[TypedValue]>::first(&v.emails).map(|e| e.value.as_str()),
        phone: <[TypedValue]>::first(&v.phones).map(|p| p.value.as_str()),
        birthday: v.birthday.and_then(|b| b.date()),
        birthday_md: v.birthday.map(|b| md_code(b.month_day())),
        additional_info: v.note.as_deref(),
        emails: typed_json(&v.emails),
        phones: typed_json(&v.phones),
        rest_email: None,
    }
}

/// Contacts stored in the `contacts` table, always filtered by owner.
#[derive(Debug, Clone)]
pub struct PgContactRepository {
    db: Database,
    /// Recent searches' matches, shared by the clones (one per instance).
    searches: Arc<SearchCache>,
    /// Big books' searchable text, shared by the clones (one per instance).
    texts: Arc<SearchTexts>,
}

impl PgContactRepository {
    /// A repository on the shared pool.
    pub fn new(db: Database) -> Self {
        Self { db, searches: Arc::default(), texts: Arc::default() }
    }

    /// A page of a kept search's matches, read by key with the owner's search stamp; `None`
    /// when nothing is kept, the page is past the kept matches, or the stamp (or a row) says
    /// the matches changed since, in which case the entry is dropped.
    async fn kept_search_page(
        &self,
        conn: &mut diesel_async::AsyncPgConnection,
        owner: UserId,
        key: &search_cache::SearchKey,
        page: Page,
    ) -> Result<Option<(Vec<Contact>, i64)>, Error> {
        let Some(kept) = self.searches.get(key) else { return Ok(None) };
        let Some(ids) = kept.page(page.skip, page.limit) else { return Ok(None) };
        match rows_at_stamp(conn, owner, ids, kept.stamp).await? {
            Some(rows) => Ok(Some((rows, kept.ids.len() as i64))),
            None => {
                self.searches.forget(key);
                Ok(None)
            }
        }
    }

    /// A page of a new search matched in the kept copy of the owner's book, its rows read by key
    /// with the owner's search stamp; `None` when no copy is kept, a needle cannot be matched in
    /// it, or the stamp (or a row) says the book changed since, in which case the copy is
    /// dropped. The matches are kept as a search asked before, for the next page.
    async fn copy_search_page(
        &self,
        conn: &mut AsyncPgConnection,
        owner: UserId,
        matches: &search::Matches,
        key: &search_cache::SearchKey,
        page: Page,
    ) -> Result<Option<(Vec<Contact>, i64)>, Error> {
        let Some(needles) = matches.plain_needles() else { return Ok(None) };
        let Some(copy) = self.texts.get(owner.0) else { return Ok(None) };
        let ids = copy.matches(&needles);
        let page_ids = search_cache::page_of(&ids, page.skip, page.limit);
        let Some(rows) = rows_at_stamp(conn, owner, page_ids, copy.stamp).await? else {
            self.texts.forget(owner.0);
            return Ok(None);
        };
        let total = ids.len() as i64;
        self.searches.keep(key.clone(), copy.stamp, ids);
        Ok(Some((rows, total)))
    }

    /// Copies the owner's book for [`Self::copy_search_page`] in the background, once the full
    /// statement says it is being searched: the search that asked is answered meanwhile.
    fn copy_when_searched(&self, owner: UserId, stamp: i64) {
        if let Some(copying) = self.texts.searched(owner.0, stamp) {
            let db = self.db.clone();
            tokio::spawn(async move {
                if let Err(error) = copy_book(&db, copying).await {
                    tracing::warn!(error = %error, "copying a book for search failed; its searches read PostgreSQL");
                }
            });
        }
    }

    async fn apply(&self, update: UpdateContact<'_>) -> Result<Option<Contact>, Error> {
        let mut conn = self.db.conn().await?;
        update.get_result::<ContactRow>(&mut conn).await.optional().into_domain()
    }
}

type Owned = diesel::dsl::Filter<contacts::table, diesel::dsl::Eq<contacts::user_id, i64>>;

/// The owner's rows: the starting point of every query, so no query can forget the owner.
fn owned(owner: UserId) -> Owned {
    contacts::table.filter(contacts::user_id.eq(owner.0))
}

/// The SQL type of a contact row.
type RowSql = diesel::dsl::SqlTypeOf<diesel::dsl::AsSelect<ContactRow, Pg>>;

/// The owner's contact count as a scalar subquery (NULL while the owner has never had one).
fn stored_count(owner: UserId) -> StoredCount {
    contact_counts::table.filter(contact_counts::user_id.eq(owner.0)).select(contact_counts::n).single_value()
}

/// The owner's search stamp as a scalar subquery: it changes with every insert, delete and
/// change of a searchable field among the owner's contacts ([`search_cache`]).
fn search_stamp(owner: UserId) -> SearchStamp {
    contact_counts::table
        .filter(contact_counts::user_id.eq(owner.0))
        .select(contact_counts::version + contact_counts::search_version)
        .single_value()
}

/// The owner's book stamp, read from their `contact_counts` row: it changes with every insert,
/// delete and update of their contacts and never comes back (migration
/// `2026-12-03-000120_book_stamp`), so a kept list page is current while it is unchanged.
fn book_stamp() -> BookStampSql {
    contact_counts::version + contact_counts::change_version
}

type BookStampSql = diesel::dsl::Add<contact_counts::version, contact_counts::change_version>;

/// The owner's book stamp as a scalar subquery (NULL while the owner has never had a contact):
/// [`book_stamp`] where a statement reads it beside other rows (a birthday list's first read).
fn owners_book_stamp(owner: i64) -> OwnersBookStamp {
    contact_counts::table.filter(contact_counts::user_id.eq(owner)).select(book_stamp()).single_value()
}

type OwnersBookStamp = diesel::dsl::SingleValue<
    diesel::dsl::Select<
        diesel::dsl::Filter<contact_counts::table, diesel::dsl::Eq<contact_counts::user_id, i64>>,
        BookStampSql,
    >,
>;

type SearchStamp = diesel::dsl::SingleValue<
    diesel::dsl::Select<
        diesel::dsl::Filter<contact_counts::table, diesel::dsl::Eq<contact_counts::user_id, i64>>,
        diesel::dsl::Add<contact_counts::version, contact_counts::search_version>,
    >,
>;

type StoredCount = diesel::dsl::SingleValue<
    diesel::dsl::Select<
        diesel::dsl::Filter<contact_counts::table, diesel::dsl::Eq<contact_counts::user_id, i64>>,
        contact_counts::n,
    >,
>;

/// A row of a shallow whole-book page: the owner's stored total and book stamp, and a contact
/// of the page (`None` on the one row of a page past the end).
type StampedRow = (i64, i64, Option<ContactRow>);

/// A page of the whole book: the owner's `contact_counts` row (total and book stamp, read in
/// the same snapshot as the rows), joined to the page's rows. The ids come first (an index-only
/// scan of `contacts_user_id_idx` that steps over `page.skip` entries without reading the
/// table), then only those rows.
///
/// The ids are an array (`id = ANY(ARRAY(…))`), not an `IN (…)` subquery, and the rows are
/// looked up by id alone (the ids are the owner's: the subquery starts from them): a list of
/// keys leaves the planner one plan to cost, a primary-key lookup, instead of the ways to join
/// two relations; and the subquery's values are hidden from the planner, so the statement is
/// planned once per connection ([`page_ids`]). The join is a left one, so the total and stamp
/// come back even when no contact does.
fn stamped_page(
    owner: UserId,
    page: Page,
) -> impl LoadQuery<'static, AsyncPgConnection, StampedRow> + QueryFragment<Pg> + Send {
    contact_counts::table
        .left_join(contacts::table.on(page_ids::OnPage { owner: owner.0, skip: page.skip, limit: page.limit }))
        .filter(contact_counts::user_id.eq(owner.0))
        .select((contact_counts::n, book_stamp(), Option::<ContactRow>::as_select()))
        .order(contacts::id)
}

/// A shallow page of the whole book (`page.skip` below [`page_marks::STRIDE`]): its rows, the
/// stored total, and the book stamp they were read at (`None` for an owner who has never had a
/// contact).
async fn whole_page(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    page: Page,
) -> Result<(Vec<ContactRow>, i64, Option<i64>), Error> {
    let rows: Vec<StampedRow> = stamped_page(owner, page).load(conn).await.map_err(query_error)?;
    let (total, stamp) = rows.as_slice().first().map_or((0, None), |(total, stamp, _)| (*total, Some(*stamp)));
    Ok((rows.into_iter().filter_map(|(_, _, row)| row).collect(), total, stamp))
}

/// Whether the owner's book stamp is still `seen`, the stamp of a copy the caller keeps (always
/// `false` without one). The check is a lookup by key, as cheap as a statement gets: a list
/// page's own statement, even told to skip its walk, cost PostgreSQL twice as much. A changed
/// book takes a second statement, once after each change.
async fn still_seen(conn: &mut AsyncPgConnection, owner: UserId, seen: Option<BookStamp>) -> Result<bool, Error> {
    let Some(BookStamp(seen)) = seen else { return Ok(false) };
    let stamp: Option<i64> = contact_counts::table
        .filter(contact_counts::user_id.eq(owner.0))
        .select(book_stamp())
        .get_result(conn)
        .await
        .optional()
        .map_err(query_error)?;
    Ok(stamp == Some(seen))
}

/// The owner's contacts of `ids` (a page of a kept search or of a kept book's matches), when the
/// owner's search stamp is still `stamp`: they are then that page. `None` when the stamp differs
/// or a row is missing. An empty page reads the stamp alone.
async fn rows_at_stamp(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    ids: &[i64],
    stamp: i64,
) -> Result<Option<Vec<Contact>>, Error> {
    if ids.is_empty() {
        let current: Option<i64> = diesel::select(search_stamp(owner)).get_result(conn).await.map_err(query_error)?;
        return Ok((current == Some(stamp)).then(Vec::new));
    }
    let rows: Vec<(ContactRow, Option<i64>)> = kept_rows(owner, ids).load(conn).await.map_err(query_error)?;
    if rows.len() != ids.len() || rows.iter().any(|(_, current)| *current != Some(stamp)) {
        return Ok(None);
    }
    Ok(Some(rows.into_iter().map(|(row, _)| row.into()).collect()))
}

/// A row of `contact_search`, as [`copy_book`] reads it.
#[derive(QueryableByName)]
struct SearchRow {
    #[diesel(sql_type = BigInt)]
    contact_id: i64,
    #[diesel(sql_type = diesel::sql_types::Text)]
    first_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    last_name: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Text>)]
    email: Option<String>,
}

/// Copies the book of `copying`'s owner from `contact_search`, indexes and keeps it, or notes
/// that it is not to be copied at its stamp (too small, too big, a separator in a field, or a
/// database that does not lower A–Z to a–z).
///
/// The stamp is read first and the rows after it: the copy is then at least as recent as its
/// stamp, and a change in between makes the stamp the next page reads differ, which drops it.
/// The rows are streamed into the copy, so no second copy of the book is held meanwhile.
async fn copy_book(db: &Database, copying: Copying) -> Result<(), Error> {
    use futures_util::TryStreamExt;

    let owner = copying.owner();
    let mut conn = db.conn().await?;
    let lower_alphabet = diesel::dsl::sql::<diesel::sql_types::Text>(&format!("lower('{}')", search_texts::ALPHABET));
    let head: Option<(i64, i64, String)> = contact_counts::table
        .filter(contact_counts::user_id.eq(owner))
        .select((contact_counts::version + contact_counts::search_version, contact_counts::n, lower_alphabet))
        .get_result(&mut conn)
        .await
        .optional()
        .map_err(query_error)?;
    // An owner who never had a contact has nothing to copy; the next searches may try again.
    let Some((stamp, size, lowered)) = head else { return Ok(()) };
    if size < search_texts::MIN_CONTACTS || lowered != search_texts::ALPHABET.to_ascii_lowercase() {
        copying.refuse(stamp);
        return Ok(());
    }
    let mut copy = BookText::new(stamp);
    let mut rows = diesel::sql_query(
        "SELECT contact_id, first_name, last_name, email FROM contact_search WHERE user_id = $1 ORDER BY contact_id",
    )
    .bind::<BigInt, _>(owner)
    .load_stream::<SearchRow>(&mut conn)
    .await
    .map_err(query_error)?;
    while let Some(row) = rows.try_next().await.map_err(query_error)? {
        if !copy.push(row.contact_id, &row.first_name, &row.last_name, row.email.as_deref()) {
            copying.refuse(stamp);
            return Ok(());
        }
    }
    copying.index_and_keep(copy).await;
    Ok(())
}

/// The owner's contacts of `ids` (a kept search's page) by key, each with the owner's search
/// stamp, read in the same snapshot.
fn kept_rows(owner: UserId, ids: &[i64]) -> contacts::BoxedQuery<'_, Pg, (RowSql, Nullable<BigInt>)> {
    contacts::table
        .into_boxed()
        .filter(contacts::user_id.eq(owner.0).and(contacts::id.eq_any(ids)))
        .select((ContactRow::as_select(), search_stamp(owner)))
        .order(contacts::id)
}

impl ContactRepository for PgContactRepository {
    async fn create(&self, owner: UserId, contact: NewContact) -> Result<Contact, Error> {
        let uid = new_uid()?;
        let mut conn = self.db.conn().await?;
        let book = address_books::table
            .filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(DEFAULT_BOOK)))
            .select(address_books::id)
            .single_value()
            .assume_not_null();
        let email = contact.email.as_str();
        let phone = contact.phone.as_str();
        let birthday = contact.birthday.date();
        diesel::insert_into(contacts::table)
            .values((
                contacts::user_id.eq(owner.0),
                contacts::book_id.eq(book),
                contacts::uid.eq(&uid),
                contacts::href.eq(format!("{uid}.vcf")),
                contacts::card.eq(REST_CARD),
                contacts::card_dirty.eq(true),
                contacts::first_name.eq(contact.first_name.as_str()),
                contacts::last_name.eq(contact.last_name.as_str()),
                contacts::email.eq(Some(email)),
                contacts::phone.eq(Some(phone)),
                contacts::birthday.eq(Some(birthday)),
                contacts::birthday_md.eq(Some(md_code(MonthDay::of(birthday)))),
                contacts::additional_info.eq(contact.additional_info.as_ref().map(|a| a.as_str())),
                contacts::emails.eq(contact.emails.as_deref().map_or_else(|| single(email), typed_json)),
                contacts::phones.eq(contact.phones.as_deref().map_or_else(|| single(phone), typed_json)),
                contacts::rest_email.eq(Some(email)),
            ))
            .returning(ContactRow::as_returning())
            .get_result(&mut conn)
            .await
            .map(Contact::from)
            .map_err(query_error)
    }

    async fn list(&self, owner: UserId, filter: &ContactFilter, page: Page) -> Result<(Vec<Contact>, i64), Error> {
        let mut conn = self.db.conn().await?;
        if *filter == ContactFilter::default() {
            // The whole book: the total is the count the triggers keep, and the page's ids come
            // from an index-only walk of (user_id, id), so neither grows with the book; a deep
            // page starts its walk at the nearest mark. (Built with diesel's DSL, not as SQL
            // text, so the statements stay prepared.)
            if page.skip < page_marks::STRIDE {
                let (rows, total, _) = whole_page(&mut conn, owner, page).await?;
                return Ok((rows.into_iter().map(Contact::from).collect(), total));
            }
            let rows = page_marks::page(&mut conn, owner, page).await.map_err(query_error)?;
            let total = match rows.as_slice().first() {
                Some((_, total)) => total.unwrap_or(0),
                // A page past the end has no row to carry the count.
                None => diesel::select(stored_count(owner))
                    .get_result::<Option<i64>>(&mut conn)
                    .await
                    .map_err(query_error)?
                    .unwrap_or(0),
            };
            return Ok((rows.into_iter().map(|(row, _)| row.into()).collect(), total));
        }
        // A search asked before, with the owner's stamp unchanged since: the page's rows by key.
        let matches = search::Matches::new(owner, filter);
        let key = matches.key();
        if let Some(answer) = self.kept_search_page(&mut conn, owner, &key, page).await? {
            return Ok(answer);
        }
        // A new search of a big book kept in memory: the matches from the copy, the page by key.
        if let Some(answer) = self.copy_search_page(&mut conn, owner, &matches, &key, page).await? {
            return Ok(answer);
        }
        // Otherwise one round trip: the search table's index finds the matches, their ids are
        // collected in order and counted, and only the page's rows are read from `contacts`.
        let mut rows: Vec<search::MatchRow> = matches.clone().page(page).load(&mut conn).await.map_err(query_error)?;
        let total = match rows.as_mut_slice().first_mut() {
            Some((_, total, stamp, ids)) => {
                if let Some(stamp) = *stamp {
                    if let Some(ids) = ids.take() {
                        self.searches.keep(key, stamp, ids);
                    }
                    self.copy_when_searched(owner, stamp);
                }
                *total
            }
            // A page past the end has no row to carry the count; ask for it separately.
            None if page.skip > 0 => matches.count().get_result(&mut conn).await.map_err(query_error)?,
            None => 0,
        };
        Ok((rows.into_iter().map(|(row, ..)| row.into()).collect(), total))
    }

    async fn book_page(&self, owner: UserId, page: Page, seen: Option<BookStamp>) -> Result<Listed, Error> {
        if page.skip >= page_marks::STRIDE {
            // A deep page is read from its marks and carries no stamp: pages that deep are
            // paged through rather than asked for again.
            let (contacts, total) = self.list(owner, &ContactFilter::default(), page).await?;
            return Ok(Listed::Read { contacts, total, stamp: None });
        }
        let mut conn = self.db.conn().await?;
        if still_seen(&mut conn, owner, seen).await? {
            return Ok(Listed::Unchanged);
        }
        let (rows, total, stamp) = whole_page(&mut conn, owner, page).await?;
        Ok(Listed::Read { contacts: rows.into_iter().map(Contact::from).collect(), total, stamp: stamp.map(BookStamp) })
    }

    async fn get(&self, owner: UserId, id: ContactId) -> Result<Option<Contact>, Error> {
        let mut conn = self.db.conn().await?;
        owned(owner)
            .filter(contacts::id.eq(id.0))
            .select(ContactRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .into_domain()
    }

    async fn replace(&self, owner: UserId, id: ContactId, contact: NewContact) -> Result<Option<Contact>, Error> {
        self.apply(UpdateContact::replace(owner.0, id.0, &contact)).await
    }

    async fn update(&self, owner: UserId, id: ContactId, patch: ContactPatch) -> Result<Option<Contact>, Error> {
        self.apply(UpdateContact::patch(owner.0, id.0, &patch)).await
    }

    async fn delete(&self, owner: UserId, id: ContactId) -> Result<bool, Error> {
        let mut conn = self.db.conn().await?;
        let deleted =
            diesel::delete(owned(owner).filter(contacts::id.eq(id.0))).execute(&mut conn).await.map_err(query_error)?;
        Ok(deleted > 0)
    }

    async fn with_birthday_on(
        &self,
        owner: UserId,
        days: &[MonthDay],
        after: Option<ContactId>,
        limit: Option<i64>,
    ) -> Result<Vec<Contact>, Error> {
        let mut conn = self.db.conn().await?;
        let codes: Vec<i16> = days.iter().map(|d| md_code(*d)).collect();
        let query = birthday_days::DaysQuery::new(owner.0, codes, after.map(|a| a.0), limit);
        query.load::<ContactRow>(&mut conn).await.into_domain()
    }

    async fn birthdays_up_to(
        &self,
        owner: UserId,
        days: &[MonthDay],
        most: i64,
        seen: Option<BookStamp>,
    ) -> Result<BirthdayProbe, Error> {
        let mut conn = self.db.conn().await?;
        if still_seen(&mut conn, owner, seen).await? {
            return Ok(BirthdayProbe::Unchanged);
        }
        let codes: Vec<i16> = days.iter().map(|d| md_code(*d)).collect();
        let rows: Vec<birthday_probe::ProbeRow> =
            birthday_probe::ProbeQuery::new(owner.0, codes, most).load(&mut conn).await.map_err(query_error)?;
        // Every row carries the same stamp; there is always at least one (the left join's).
        let stamp = rows.as_slice().first().and_then(|(.., stamp)| stamp.map(BookStamp));
        if let [(None, Some(days), Some(counts), _)] = rows.as_slice() {
            let days = days.iter().map(|code| month_day(*code));
            return Ok(BirthdayProbe::Counted { counts: days.zip(counts.iter().copied()).collect(), stamp });
        }
        let contacts = rows.into_iter().filter_map(|(row, ..)| row.map(Contact::from)).collect();
        Ok(BirthdayProbe::All { contacts, stamp })
    }

    async fn import(&self, owner: UserId, cards: &[CardRecord]) -> Result<Vec<ImportOutcome>, Error> {
        use diesel::upsert::excluded;
        let mut conn = self.db.conn().await?;
        let books: Vec<(i64, String)> = address_books::table
            .filter(address_books::user_id.eq(owner.0))
            .select((address_books::id, address_books::name))
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        let default = books.iter().find(|(_, name)| name == DEFAULT_BOOK).map(|(id, _)| *id);
        let default = default.ok_or_else(|| Error::unexpected(std::io::Error::other("no default address book")))?;
        // A card whose UID is in another of the owner's books replaces that contact there: an
        // export holds every book's cards, so importing it back must not copy them into the
        // default book. The default book wins when it holds the UID too. Served by the
        // (book_id, uid) key.
        let uids: Vec<&str> = cards.iter().map(|c| c.uid.as_str()).collect();
        let homes: Vec<(String, i64)> = contacts::table
            .filter(contacts::book_id.eq_any(books.iter().map(|(id, _)| *id)).and(contacts::uid.eq_any(&uids)))
            .select((contacts::uid, contacts::book_id))
            .order((contacts::book_id.eq(default).asc(), contacts::id.desc()))
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        // Ordered so that the entry kept per UID (the last) is the default book's, else the oldest.
        let homes: std::collections::HashMap<String, i64> = homes.into_iter().collect();
        let rows: Vec<CardInsert<'_>> = cards
            .iter()
            .map(|c| {
                let book = homes.get(&c.uid).copied().unwrap_or(default);
                card_insert(owner.0, book, format!("{}.vcf", c.uid), c)
            })
            .collect();
        // `xmax = 0` only for a row this statement inserted (an updated row has a deleting xmax).
        let stored: Vec<(String, bool)> = diesel::insert_into(contacts::table)
            .values(&rows)
            .on_conflict((contacts::book_id, contacts::uid))
            .do_update()
            .set((
                contacts::card.eq(excluded(contacts::card)),
                contacts::card_dirty.eq(false),
                contacts::first_name.eq(excluded(contacts::first_name)),
                contacts::last_name.eq(excluded(contacts::last_name)),
                contacts::email.eq(excluded(contacts::email)),
                contacts::phone.eq(excluded(contacts::phone)),
                contacts::birthday.eq(excluded(contacts::birthday)),
                contacts::birthday_md.eq(excluded(contacts::birthday_md)),
                contacts::additional_info.eq(excluded(contacts::additional_info)),
                contacts::emails.eq(excluded(contacts::emails)),
                contacts::phones.eq(excluded(contacts::phones)),
                contacts::rest_email.eq(claim_kept_on_conflict()),
                contacts::updated_at.eq(diesel::dsl::now),
            ))
            .returning((contacts::uid, diesel::dsl::sql::<diesel::sql_types::Bool>("xmax = 0")))
            .get_results(&mut conn)
            .await
            .map_err(query_error)?;
        let created: std::collections::HashMap<String, bool> = stored.into_iter().collect();
        Ok(cards
            .iter()
            .map(|c| if created.get(&c.uid) == Some(&true) { ImportOutcome::Created } else { ImportOutcome::Updated })
            .collect())
    }

    async fn cards_after(&self, owner: UserId, after: Option<ContactId>, limit: i64) -> Result<Vec<StoredCard>, Error> {
        let mut conn = self.db.conn().await?;
        owned(owner)
            .filter(contacts::id.gt(after.map_or(0, |a| a.0)))
            .select(CardRow::as_select())
            .order(contacts::id)
            .limit(limit)
            .load(&mut conn)
            .await
            .into_domain()
    }

    async fn card(&self, owner: UserId, id: ContactId) -> Result<Option<StoredCard>, Error> {
        let mut conn = self.db.conn().await?;
        owned(owner)
            .filter(contacts::id.eq(id.0))
            .select(CardRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .into_domain()
    }
}

mod birthday_days;
mod birthday_probe;
mod page_ids;
mod page_marks;
mod search;
mod search_cache;
mod search_texts;
mod typed_values;
mod update;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod plans;
