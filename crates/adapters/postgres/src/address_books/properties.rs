//! The properties clients set on their books, home and cards: the ones kept in
//! `client_properties`, read a user's (or a page of cards') at once, and a book's labels. A change
//! of them runs in one transaction with the holder's row locked, so it is whole or not at all and
//! the bounds on what a holder keeps are judged by one writer at a time; a new book is made with
//! its properties in one transaction too.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{BigInt, Nullable};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use contacts_domain::Error;
use contacts_domain::addressbook::{
    BookLabels, ClientProperty, HeldProperty, PropertiesWrite, PropertyChange, PropertyHolder, after_changes,
};
use contacts_domain::user::UserId;

use super::PgAddressBooks;
use crate::error::query_error;
use crate::schema::{address_books, client_properties, contacts, users};

/// A book's labels to set; the ones left `None` keep their value.
#[derive(AsChangeset)]
#[diesel(table_name = address_books)]
struct LabelColumns<'a> {
    display_name: Option<&'a str>,
    description: Option<&'a str>,
}

/// A holder's row: the book's or the contact's id (`None`, `None` for the home).
#[derive(Debug, Clone, Copy)]
struct Holder {
    book: Option<i64>,
    contact: Option<i64>,
}

/// Locks the holder of the properties (the book, the card's contact, or the user for the home)
/// until the transaction ends; [`DieselError::NotFound`] when there is no such book or card.
async fn lock_holder(conn: &mut AsyncPgConnection, owner: UserId, holder: PropertyHolder<'_>) -> QueryResult<Holder> {
    let book_named = |name: &str| address_books::user_id.eq(owner.0).and(address_books::name.eq(name.to_owned()));
    match holder {
        PropertyHolder::Home => {
            users::table.find(owner.0).select(users::id).for_no_key_update().first::<i64>(conn).await?;
            Ok(Holder { book: None, contact: None })
        }
        PropertyHolder::Book(name) => {
            let id = address_books::table
                .filter(book_named(name))
                .select(address_books::id)
                .for_no_key_update()
                .first(conn)
                .await?;
            Ok(Holder { book: Some(id), contact: None })
        }
        PropertyHolder::Card { book, href } => {
            let id = contacts::table
                .inner_join(address_books::table)
                .filter(book_named(book))
                .filter(contacts::href.eq(href))
                .select(contacts::id)
                .for_no_key_update()
                .first(conn)
                .await?;
            Ok(Holder { book: None, contact: Some(id) })
        }
    }
}

/// The properties of `owner` kept by `holder`.
fn held_by(owner: UserId, holder: Holder) -> client_properties::BoxedQuery<'static, diesel::pg::Pg> {
    let query = client_properties::table.filter(client_properties::user_id.eq(owner.0)).into_boxed();
    let query = match holder.book {
        Some(id) => query.filter(client_properties::book_id.eq(id)),
        None => query.filter(client_properties::book_id.is_null()),
    };
    match holder.contact {
        Some(id) => query.filter(client_properties::contact_id.eq(id)),
        None => query.filter(client_properties::contact_id.is_null()),
    }
}

impl PgAddressBooks {
    /// See [`AddressBookStore::client_properties`](contacts_domain::addressbook::AddressBookStore).
    pub(super) async fn read_client_properties(&self, owner: UserId) -> Result<Vec<HeldProperty>, Error> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<(Option<String>, String, String, String)> = client_properties::table
            .left_join(address_books::table.on(address_books::id.nullable().eq(client_properties::book_id)))
            .filter(client_properties::user_id.eq(owner.0))
            .filter(client_properties::contact_id.is_null())
            .order(client_properties::id)
            .select((
                address_books::name.nullable(),
                client_properties::namespace,
                client_properties::name,
                client_properties::value,
            ))
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(rows
            .into_iter()
            .map(|(book, namespace, name, value)| HeldProperty {
                book,
                property: ClientProperty { namespace, name, value },
            })
            .collect())
    }

    /// See [`AddressBookStore::card_properties`](contacts_domain::addressbook::AddressBookStore).
    pub(super) async fn read_card_properties(
        &self,
        owner: UserId,
        book: &str,
        hrefs: &[String],
    ) -> Result<Vec<(String, ClientProperty)>, Error> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<(String, String, String, String)> = client_properties::table
            .inner_join(contacts::table.on(contacts::id.nullable().eq(client_properties::contact_id)))
            .inner_join(address_books::table.on(address_books::id.eq(contacts::book_id)))
            .filter(client_properties::user_id.eq(owner.0))
            .filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(book)))
            .filter(contacts::href.eq_any(hrefs))
            .order(client_properties::id)
            .select((contacts::href, client_properties::namespace, client_properties::name, client_properties::value))
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        Ok(rows
            .into_iter()
            .map(|(href, namespace, name, value)| (href, ClientProperty { namespace, name, value }))
            .collect())
    }

    /// See [`AddressBookStore::change_client_properties`](contacts_domain::addressbook::AddressBookStore).
    /// At most four statements whatever the number of changes: read what the holder keeps,
    /// delete the rows that change and insert their successors, as [`after_changes`] decides,
    /// then set a book's labels.
    pub(super) async fn write_client_properties(
        &self,
        owner: UserId,
        holder: PropertyHolder<'_>,
        labels: BookLabels<'_>,
        changes: &[PropertyChange],
    ) -> Result<PropertiesWrite, Error> {
        if !labels.is_none() && !matches!(holder, PropertyHolder::Book(_)) {
            return Err(Error::unexpected("labels are a book's only"));
        }
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, DieselError, _>(async |conn| {
            let holder = match lock_holder(conn, owner, holder).await {
                Ok(holder) => holder,
                Err(DieselError::NotFound) => return Ok(PropertiesWrite::Missing),
                Err(other) => return Err(other),
            };
            if !changes.is_empty() && !change_kept(conn, owner, holder, changes).await? {
                return Ok(PropertiesWrite::Full);
            }
            if let (Some(book), false) = (holder.book, labels.is_none()) {
                let BookLabels { display_name, description } = labels;
                diesel::update(address_books::table.find(book))
                    .set(LabelColumns { display_name, description })
                    .execute(conn)
                    .await?;
            }
            Ok(PropertiesWrite::Done)
        })
        .await
        .map_err(query_error)
    }

    /// See [`AddressBookStore::create_book`](contacts_domain::addressbook::AddressBookStore): the
    /// book (`labels`: its display name and description) and what it keeps, in one transaction.
    pub(super) async fn insert_book(
        &self,
        owner: UserId,
        name: &str,
        labels: (&str, &str),
        kept: &[PropertyChange],
    ) -> Result<bool, Error> {
        let Some(kept) = after_changes(&[], kept) else {
            return Err(Error::unexpected("a new book's properties past their bounds"));
        };
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, DieselError, _>(async |conn| {
            let id: Option<i64> = diesel::insert_into(address_books::table)
                .values((
                    address_books::user_id.eq(owner.0),
                    address_books::name.eq(name),
                    address_books::display_name.eq(labels.0),
                    address_books::description.eq(labels.1),
                ))
                .on_conflict((address_books::user_id, address_books::name))
                .do_nothing()
                .returning(address_books::id)
                .get_result(conn)
                .await
                .optional()?;
            let Some(id) = id else { return Ok(false) };
            insert_kept(conn, owner, Holder { book: Some(id), contact: None }, &kept).await?;
            Ok(true)
        })
        .await
        .map_err(query_error)
    }
}

/// Gives the contact `to` (a card just written, locked) the properties the card `from` (book,
/// name) keeps, in place of its own: a `COPY` (RFC 4918 9.8.2). Two statements.
pub(super) async fn copy_card_properties(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    from: (&str, &str),
    to: i64,
) -> QueryResult<()> {
    let mine = client_properties::user_id.eq(owner.0);
    diesel::delete(client_properties::table.filter(mine.and(client_properties::contact_id.eq(to))))
        .execute(conn)
        .await?;
    let source = contacts::table
        .inner_join(address_books::table)
        .filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(from.0)))
        .filter(contacts::href.eq(from.1))
        .select(contacts::id.nullable());
    let copies = client_properties::table
        .filter(mine.and(client_properties::contact_id.eq_any(source)))
        .order(client_properties::id)
        .select((
            client_properties::user_id,
            Some(to).into_sql::<Nullable<BigInt>>(),
            client_properties::namespace,
            client_properties::name,
            client_properties::value,
        ));
    diesel::insert_into(client_properties::table)
        .values(copies)
        .into_columns((
            client_properties::user_id,
            client_properties::contact_id,
            client_properties::namespace,
            client_properties::name,
            client_properties::value,
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Applies `changes` to what the locked `holder` keeps; `false` (nothing changed) past a bound.
async fn change_kept(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    holder: Holder,
    changes: &[PropertyChange],
) -> QueryResult<bool> {
    let rows: Vec<(i64, String, String, String)> = held_by(owner, holder)
        .order(client_properties::id)
        .select((
            client_properties::id,
            client_properties::namespace,
            client_properties::name,
            client_properties::value,
        ))
        .load(conn)
        .await?;
    let (ids, kept): (Vec<i64>, Vec<ClientProperty>) =
        rows.into_iter().map(|(id, namespace, name, value)| (id, ClientProperty { namespace, name, value })).unzip();
    let Some(after) = after_changes(&kept, changes) else { return Ok(false) };
    // The holder keeps at most a hundred: these scans are short.
    let gone: Vec<i64> = ids.iter().zip(&kept).filter(|(_, p)| !after.contains(p)).map(|(id, _)| *id).collect();
    let new: Vec<ClientProperty> = after.into_iter().filter(|p| !kept.contains(p)).collect();
    if !gone.is_empty() {
        diesel::delete(client_properties::table.filter(client_properties::id.eq_any(&gone))).execute(conn).await?;
    }
    insert_kept(conn, owner, holder, &new).await?;
    Ok(true)
}

/// Stores `properties` on `holder`, in one statement (none for none).
async fn insert_kept(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    holder: Holder,
    properties: &[ClientProperty],
) -> QueryResult<()> {
    if properties.is_empty() {
        return Ok(());
    }
    let rows: Vec<_> = properties
        .iter()
        .map(|p| {
            (
                client_properties::user_id.eq(owner.0),
                client_properties::book_id.eq(holder.book),
                client_properties::contact_id.eq(holder.contact),
                client_properties::namespace.eq(&p.namespace),
                client_properties::name.eq(&p.name),
                client_properties::value.eq(&p.value),
            )
        })
        .collect();
    diesel::insert_into(client_properties::table).values(&rows).execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
