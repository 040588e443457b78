//! The properties clients keep on their books, home and cards (`client_properties`): read a
//! user's (or a page of cards') at once, changed in one transaction with their holder's row
//! locked, so the bounds on what a holder keeps are judged by one writer at a time.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use contacts_domain::Error;
use contacts_domain::addressbook::{
    ClientProperty, HeldProperty, PropertiesWrite, PropertyChange, PropertyHolder, after_changes,
};
use contacts_domain::user::UserId;

use super::PgAddressBooks;
use crate::error::query_error;
use crate::schema::{address_books, client_properties, contacts, users};

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
    /// Three statements whatever the number of changes: read what the holder keeps, then
    /// delete the rows that change and insert their successors, as [`after_changes`] decides.
    pub(super) async fn write_client_properties(
        &self,
        owner: UserId,
        holder: PropertyHolder<'_>,
        changes: &[PropertyChange],
    ) -> Result<PropertiesWrite, Error> {
        let mut conn = self.db.conn().await?;
        conn.transaction::<_, DieselError, _>(async |conn| {
            let holder = match lock_holder(conn, owner, holder).await {
                Ok(holder) => holder,
                Err(DieselError::NotFound) => return Ok(PropertiesWrite::Missing),
                Err(other) => return Err(other),
            };
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
            let (ids, kept): (Vec<i64>, Vec<ClientProperty>) = rows
                .into_iter()
                .map(|(id, namespace, name, value)| (id, ClientProperty { namespace, name, value }))
                .unzip();
            let Some(after) = after_changes(&kept, changes) else { return Ok(PropertiesWrite::Full) };
            // The holder keeps at most a hundred: these scans are short.
            let gone: Vec<i64> = ids.iter().zip(&kept).filter(|(_, p)| !after.contains(p)).map(|(id, _)| *id).collect();
            let new: Vec<_> = after
                .iter()
                .filter(|p| !kept.contains(p))
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
            if !gone.is_empty() {
                diesel::delete(client_properties::table.filter(client_properties::id.eq_any(&gone)))
                    .execute(conn)
                    .await?;
            }
            if !new.is_empty() {
                diesel::insert_into(client_properties::table).values(&new).execute(conn).await?;
            }
            Ok(PropertiesWrite::Done)
        })
        .await
        .map_err(query_error)
    }
}

#[cfg(test)]
mod tests;
