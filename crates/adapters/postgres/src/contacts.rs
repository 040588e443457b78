//! [`PgContactRepository`]: the contact port on PostgreSQL.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::count_star;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use contacts_domain::Error;
use contacts_domain::contact::{
    Contact, ContactFilter, ContactId, ContactPatch, ContactRepository, MonthDay, NewContact, Page,
};
use contacts_domain::user::UserId;

use crate::error::query_error;
use crate::pool::Database;
use crate::schema::contacts;
use update::UpdateContact;

#[derive(Queryable, Selectable)]
#[diesel(table_name = contacts, check_for_backend(Pg))]
struct ContactRow {
    id: i64,
    first_name: String,
    last_name: String,
    email: String,
    phone: String,
    birthday: NaiveDate,
    additional_info: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ContactRow> for Contact {
    fn from(row: ContactRow) -> Self {
        Contact {
            id: ContactId(row.id),
            first_name: row.first_name,
            last_name: row.last_name,
            email: row.email,
            phone: row.phone,
            birthday: row.birthday,
            additional_info: row.additional_info,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// `None` is inserted as NULL rather than left to the column default, so the statement is the
/// same for every contact and diesel keeps it prepared (one round trip an insert).
#[derive(Insertable)]
#[diesel(table_name = contacts, treat_none_as_default_value = false)]
struct NewContactRow<'a> {
    user_id: i64,
    first_name: &'a str,
    last_name: &'a str,
    email: &'a str,
    phone: &'a str,
    birthday: NaiveDate,
    additional_info: Option<&'a str>,
}

/// Contacts stored in the `contacts` table, always filtered by owner.
#[derive(Debug, Clone)]
pub struct PgContactRepository {
    db: Database,
}

impl PgContactRepository {
    /// A repository on the shared pool.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    async fn apply(&self, update: UpdateContact<'_>) -> Result<Option<Contact>, Error> {
        let mut conn = self.db.conn().await?;
        update
            .get_result::<ContactRow>(&mut conn)
            .await
            .optional()
            .map(|row| row.map(Contact::from))
            .map_err(query_error)
    }
}

type Owned = diesel::dsl::Filter<contacts::table, diesel::dsl::Eq<contacts::user_id, i64>>;

/// The owner's rows: the starting point of every query, so no query can forget the owner.
fn owned(owner: UserId) -> Owned {
    contacts::table.filter(contacts::user_id.eq(owner.0))
}

/// The owner's rows matching every filter, as a boxed query so it can be built twice.
fn matching<'a>(owner: UserId, filter: &ContactFilter) -> contacts::BoxedQuery<'a, Pg> {
    let mut query = owned(owner).into_boxed();
    if let Some(v) = &filter.first_name {
        query = query.filter(contacts::first_name.ilike(substring_pattern(v)));
    }
    if let Some(v) = &filter.last_name {
        query = query.filter(contacts::last_name.ilike(substring_pattern(v)));
    }
    if let Some(v) = &filter.email {
        query = query.filter(contacts::email.ilike(substring_pattern(v)));
    }
    if let Some(v) = &filter.q {
        let pattern = substring_pattern(v);
        query = query.filter(
            contacts::first_name
                .ilike(pattern.clone())
                .or(contacts::last_name.ilike(pattern.clone()))
                .or(contacts::email.ilike(pattern)),
        );
    }
    query
}

/// An ILIKE pattern matching `needle` anywhere, with `%`, `_` and `\` taken literally.
fn substring_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl ContactRepository for PgContactRepository {
    async fn create(&self, owner: UserId, contact: NewContact) -> Result<Contact, Error> {
        let mut conn = self.db.conn().await?;
        let row = NewContactRow {
            user_id: owner.0,
            first_name: contact.first_name.as_str(),
            last_name: contact.last_name.as_str(),
            email: contact.email.as_str(),
            phone: contact.phone.as_str(),
            birthday: contact.birthday.date(),
            additional_info: contact.additional_info.as_ref().map(|a| a.as_str()),
        };
        diesel::insert_into(contacts::table)
            .values(row)
            .returning(ContactRow::as_returning())
            .get_result(&mut conn)
            .await
            .map(Contact::from)
            .map_err(query_error)
    }

    async fn list(&self, owner: UserId, filter: &ContactFilter, page: Page) -> Result<(Vec<Contact>, i64), Error> {
        let mut conn = self.db.conn().await?;
        // One round trip: the window function counts every match before LIMIT applies. (Built
        // with diesel's DSL, not as SQL text, so the statement stays prepared between requests.)
        let rows: Vec<(ContactRow, i64)> = matching(owner, filter)
            .select((ContactRow::as_select(), count_star().over()))
            .order(contacts::id)
            .offset(page.skip)
            .limit(page.limit)
            .load(&mut conn)
            .await
            .map_err(query_error)?;
        let total = match rows.as_slice().first() {
            Some((_, total)) => *total,
            // A page past the end has no row to carry the count; ask for it separately.
            None if page.skip > 0 => {
                matching(owner, filter).count().get_result(&mut conn).await.map_err(query_error)?
            }
            None => 0,
        };
        Ok((rows.into_iter().map(|(row, _)| row.into()).collect(), total))
    }

    async fn get(&self, owner: UserId, id: ContactId) -> Result<Option<Contact>, Error> {
        let mut conn = self.db.conn().await?;
        owned(owner)
            .filter(contacts::id.eq(id.0))
            .select(ContactRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map(|row| row.map(Contact::from))
            .map_err(query_error)
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

    async fn with_birthday_on(&self, owner: UserId, days: &[MonthDay]) -> Result<Vec<Contact>, Error> {
        let mut conn = self.db.conn().await?;
        let codes: Vec<i16> = days.iter().map(|d| (d.month * 100 + d.day) as i16).collect();
        owned(owner)
            .filter(contacts::birthday_md.eq_any(codes))
            .select(ContactRow::as_select())
            .order(contacts::id)
            .load(&mut conn)
            .await
            .map(|rows| rows.into_iter().map(Contact::from).collect())
            .map_err(query_error)
    }
}

mod update;

#[cfg(test)]
mod tests;
