//! The properties clients keep on their books and home (`client_properties`): read all at
//! once, changed in one transaction with their holder's row locked, so the bound on how many a
//! holder keeps is judged by one writer at a time.

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use contacts_domain::Error;
use contacts_domain::addressbook::{
    ClientProperty, HeldProperty, MAX_CLIENT_PROPERTIES, PropertiesWrite, PropertyChange,
};
use contacts_domain::user::UserId;

use super::PgAddressBooks;
use crate::error::query_error;
use crate::schema::{address_books, client_properties, users};

/// Locks the holder of the properties (the book `name`, or the user for the home) until the
/// transaction ends: the book's id, `None` for the home; [`DieselError::NotFound`] when there
/// is no such book.
async fn lock_holder(conn: &mut AsyncPgConnection, owner: UserId, book: Option<&str>) -> QueryResult<Option<i64>> {
    match book {
        Some(name) => address_books::table
            .filter(address_books::user_id.eq(owner.0).and(address_books::name.eq(name)))
            .select(address_books::id)
            .for_no_key_update()
            .first(conn)
            .await
            .map(Some),
        None => users::table.find(owner.0).select(users::id).for_no_key_update().first::<i64>(conn).await.map(|_| None),
    }
}

/// The properties of `owner` held by `book` (`None`: the home).
fn held_by(owner: UserId, book: Option<i64>) -> client_properties::BoxedQuery<'static, diesel::pg::Pg> {
    let query = client_properties::table.filter(client_properties::user_id.eq(owner.0)).into_boxed();
    match book {
        Some(id) => query.filter(client_properties::book_id.eq(id)),
        None => query.filter(client_properties::book_id.is_null()),
    }
}

impl PgAddressBooks {
    /// See [`AddressBookStore::client_properties`](contacts_domain::addressbook::AddressBookStore).
    pub(super) async fn read_client_properties(&self, owner: UserId) -> Result<Vec<HeldProperty>, Error> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<(Option<String>, String, String, String)> = client_properties::table
            .left_join(address_books::table.on(address_books::id.nullable().eq(client_properties::book_id)))
            .filter(client_properties::user_id.eq(owner.0))
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

    /// See [`AddressBookStore::change_client_properties`](contacts_domain::addressbook::AddressBookStore).
    pub(super) async fn write_client_properties(
        &self,
        owner: UserId,
        book: Option<&str>,
        changes: &[PropertyChange],
    ) -> Result<PropertiesWrite, Error> {
        let mut conn = self.db.conn().await?;
        let result = conn
            .transaction::<_, Abort, _>(async |conn| {
                let holder = match lock_holder(conn, owner, book).await {
                    Ok(holder) => holder,
                    Err(DieselError::NotFound) => return Ok(PropertiesWrite::Missing),
                    Err(other) => return Err(other.into()),
                };
                for change in changes {
                    let same_name = diesel::delete(client_properties::table)
                        .filter(client_properties::user_id.eq(owner.0))
                        .filter(client_properties::namespace.eq(&change.namespace))
                        .filter(client_properties::name.eq(&change.name))
                        .into_boxed();
                    match holder {
                        Some(id) => same_name.filter(client_properties::book_id.eq(id)),
                        None => same_name.filter(client_properties::book_id.is_null()),
                    }
                    .execute(conn)
                    .await?;
                    if let Some(value) = &change.value {
                        diesel::insert_into(client_properties::table)
                            .values((
                                client_properties::user_id.eq(owner.0),
                                client_properties::book_id.eq(holder),
                                client_properties::namespace.eq(&change.namespace),
                                client_properties::name.eq(&change.name),
                                client_properties::value.eq(value),
                            ))
                            .execute(conn)
                            .await?;
                    }
                }
                let kept: i64 = held_by(owner, holder).count().get_result(conn).await?;
                if kept > MAX_CLIENT_PROPERTIES {
                    return Err(Abort::Full);
                }
                Ok(PropertiesWrite::Done)
            })
            .await;
        match result {
            Ok(outcome) => Ok(outcome),
            Err(Abort::Full) => Ok(PropertiesWrite::Full),
            Err(Abort::Query(error)) => Err(query_error(error)),
        }
    }
}

/// Why a change of properties ended its transaction without committing.
enum Abort {
    /// A query failed.
    Query(DieselError),
    /// The holder would keep more than [`MAX_CLIENT_PROPERTIES`].
    Full,
}

impl From<DieselError> for Abort {
    fn from(error: DieselError) -> Self {
        Self::Query(error)
    }
}

#[cfg(test)]
mod tests;
