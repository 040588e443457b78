//! [`DaysQuery`]: a chunk of a long birthday list, the owner's contacts born on some days, in
//! id order, after an id and at most a limit.
//!
//! ```sql
//! SELECT <contact> FROM (SELECT * FROM contacts WHERE <owner's birthdays on the days> OFFSET 0) contacts
//! WHERE id > (SELECT $after) ORDER BY id LIMIT (SELECT $limit)
//! ```
//!
//! The days' contacts are found in a subquery that `OFFSET 0` keeps a subquery, so PostgreSQL
//! plans it for all of them: the `(user_id, birthday_md)` index, whatever the values. Written
//! as one query (`… ORDER BY id LIMIT n`), its generic plan, which a pooled connection keeps
//! after five executions, walked the primary key in id order and filtered every contact of
//! the table to find a few hundred: 16 ms instead of 1 for three days of a 50,000-contact
//! book (`docs/performance.rst`, Birthdays). The cost is that a page of
//! one long day (`after` set) reads the whole day again to sort it; only a day with more than
//! a chunk of birthdays has such pages.
//!
//! Every value is behind `(SELECT $n)`, as in [`super::birthday_probe`], so the statement is
//! planned once per connection.

use diesel::SelectableHelper;
use diesel::dsl::AsSelect;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{BigInt, Nullable};

use super::birthday_probe::owners_days;
use super::{ContactRow, RowSql};

/// The statement; its rows load as [`ContactRow`].
pub(super) struct DaysQuery {
    columns: AsSelect<ContactRow, Pg>,
    owner: i64,
    /// The days' `birthday_md` codes.
    codes: Vec<i16>,
    /// The id the contacts come after (0 for the first: ids are positive).
    after: i64,
    /// At most this many contacts; `None` (SQL `NULL`) for no limit.
    limit: Option<i64>,
}

impl DaysQuery {
    /// The owner's contacts born on one of `codes`, after `after` and at most `limit`.
    pub(super) fn new(owner: i64, codes: Vec<i16>, after: Option<i64>, limit: Option<i64>) -> Self {
        Self { columns: ContactRow::as_select(), owner, codes, after: after.unwrap_or(0), limit }
    }
}

impl Query for DaysQuery {
    type SqlType = RowSql;
}

/// The statement's text is fixed, so diesel keeps it prepared.
impl QueryId for DaysQuery {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for DaysQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        self.columns.walk_ast(out.reborrow())?;
        out.push_sql(" FROM (SELECT * FROM \"contacts\" WHERE ");
        owners_days(&mut out, "contacts", &self.owner, &self.codes)?;
        out.push_sql(" OFFSET 0) AS \"contacts\" WHERE \"contacts\".\"id\" > (SELECT ");
        out.push_bind_param::<BigInt, _>(&self.after)?;
        out.push_sql(") ORDER BY \"contacts\".\"id\" LIMIT (SELECT ");
        out.push_bind_param::<Nullable<BigInt>, _>(&self.limit)?;
        out.push_sql(")");
        Ok(())
    }
}
