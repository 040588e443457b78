//! [`UpdateContact`]: the one `UPDATE` behind PUT and PATCH, as a statement whose text never
//! changes. Diesel never keeps its own `UPDATE` builder prepared (the SQL varies with the
//! changeset), so every update would cost a round trip to prepare and another to run; this one
//! is prepared once per connection and then runs in one.

use chrono::NaiveDate;
use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Date, Json, Nullable, SmallInt, Text, Timestamptz};

use contacts_domain::contact::{ContactPatch, NewContact};

/// Sets the given columns (`None` keeps a column) of one contact of one owner (the owner is in
/// the `WHERE`, as in every contact query), stamps `updated_at` and returns the row in
/// [`super::ContactRow`]'s column order.
pub(super) struct UpdateContact<'a> {
    owner: i64,
    id: i64,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    email: Option<&'a str>,
    phone: Option<&'a str>,
    birthday: Option<NaiveDate>,
    birthday_md: Option<i16>,
    /// Whole new lists, when sent.
    emails: Option<serde_json::Value>,
    phones: Option<serde_json::Value>,
    /// Whether `additional_info` is set at all: a patch may set it to NULL or leave it.
    set_additional_info: bool,
    additional_info: Option<&'a str>,
}

impl<'a> UpdateContact<'a> {
    /// Every column replaced (PUT).
    pub(super) fn replace(owner: i64, id: i64, c: &'a NewContact) -> Self {
        Self {
            owner,
            id,
            first_name: Some(c.first_name.as_str()),
            last_name: Some(c.last_name.as_str()),
            email: Some(c.email.as_str()),
            phone: Some(c.phone.as_str()),
            birthday: Some(c.birthday.date()),
            birthday_md: Some(md(c.birthday.date())),
            emails: c.emails.as_deref().map(super::typed_json),
            phones: c.phones.as_deref().map(super::typed_json),
            set_additional_info: true,
            additional_info: c.additional_info.as_ref().map(|a| a.as_str()),
        }
    }

    /// Only the columns the patch names (PATCH).
    pub(super) fn patch(owner: i64, id: i64, p: &'a ContactPatch) -> Self {
        Self {
            owner,
            id,
            first_name: p.first_name.as_ref().map(|v| v.as_str()),
            last_name: p.last_name.as_ref().map(|v| v.as_str()),
            email: p.email.as_ref().map(|v| v.as_str()),
            phone: p.phone.as_ref().map(|v| v.as_str()),
            birthday: p.birthday.map(|v| v.date()),
            birthday_md: p.birthday.map(|v| md(v.date())),
            emails: p.emails.as_deref().map(super::typed_json),
            phones: p.phones.as_deref().map(super::typed_json),
            set_additional_info: p.additional_info.is_some(),
            additional_info: p.additional_info.as_ref().and_then(|v| v.as_ref().map(|a| a.as_str())),
        }
    }
}

fn md(date: NaiveDate) -> i16 {
    use chrono::Datelike;
    (date.month() * 100 + date.day()) as i16
}

impl QueryId for UpdateContact<'_> {
    type QueryId = UpdateContact<'static>;
    // The text is fixed, so diesel may cache the prepared statement by this type.
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for UpdateContact<'_> {
    type SqlType = (
        BigInt,
        Text,
        Text,
        Text,
        Nullable<Text>,
        Nullable<Text>,
        Nullable<Date>,
        Nullable<SmallInt>,
        Nullable<Text>,
        Json,
        Json,
        Timestamptz,
        Timestamptz,
    );
}

impl QueryFragment<Pg> for UpdateContact<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("UPDATE contacts SET ");
        for (column, value) in [("first_name", &self.first_name), ("last_name", &self.last_name)] {
            out.push_sql(column);
            out.push_sql(" = COALESCE(");
            out.push_bind_param::<Nullable<Text>, _>(value)?;
            out.push_sql(", ");
            out.push_sql(column);
            out.push_sql("), ");
        }
        // A whole list sent replaces the list; else a new email or phone replaces its first entry
        // (keeping its type) and the column. An email set by REST is also its unique `rest_email`.
        let lists = [("email", "emails", &self.email, &self.emails), ("phone", "phones", &self.phone, &self.phones)];
        for (column, list, value, whole) in lists {
            out.push_sql(column);
            out.push_sql(" = COALESCE(");
            out.push_bind_param::<Nullable<Text>, _>(value)?;
            out.push_sql(", ");
            out.push_sql(column);
            out.push_sql("), ");
            out.push_sql(list);
            out.push_sql(" = COALESCE(");
            out.push_bind_param::<Nullable<Json>, _>(whole)?;
            out.push_sql(", CASE WHEN ");
            out.push_bind_param::<Nullable<Text>, _>(value)?;
            out.push_sql(" IS NULL THEN ");
            out.push_sql(list);
            // The list is `json` (its text); the edit is made on its `jsonb` form.
            out.push_sql(" ELSE jsonb_set(");
            out.push_sql(list);
            out.push_sql("::jsonb, '{0}', jsonb_build_object('value', ");
            out.push_bind_param::<Nullable<Text>, _>(value)?;
            out.push_sql("::text, 'type', ");
            out.push_sql(list);
            out.push_sql("::jsonb->0->'type'))::json END), ");
        }
        out.push_sql("rest_email = COALESCE(");
        out.push_bind_param::<Nullable<Text>, _>(&self.email)?;
        out.push_sql(", rest_email), birthday = COALESCE(");
        out.push_bind_param::<Nullable<Date>, _>(&self.birthday)?;
        out.push_sql(", birthday), birthday_md = COALESCE(");
        out.push_bind_param::<Nullable<SmallInt>, _>(&self.birthday_md)?;
        out.push_sql(", birthday_md), additional_info = CASE WHEN ");
        out.push_bind_param::<Bool, _>(&self.set_additional_info)?;
        out.push_sql(" THEN ");
        out.push_bind_param::<Nullable<Text>, _>(&self.additional_info)?;
        out.push_sql(" ELSE additional_info END, card_dirty = TRUE, updated_at = now() WHERE user_id = ");
        out.push_bind_param::<BigInt, _>(&self.owner)?;
        out.push_sql(" AND id = ");
        out.push_bind_param::<BigInt, _>(&self.id)?;
        out.push_sql(
            " RETURNING id, uid, first_name, last_name, email, phone, birthday, birthday_md, additional_info, \
             emails, phones, created_at, updated_at",
        );
        Ok(())
    }
}
