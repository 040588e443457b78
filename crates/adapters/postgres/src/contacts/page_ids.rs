//! The condition that picks a whole-book page's rows, written so that PostgreSQL plans it once
//! per connection instead of at every request.
//!
//! A prepared statement is planned for its parameter values ("custom" plans) until PostgreSQL
//! finds a plan for any values ("generic") that it estimates no dearer. With the values in
//! view, the custom plan always looks cheaper: it knows the `LIMIT` (the generic one assumes a
//! tenth of the owner's rows) and the owner's own number of contacts (the generic one the
//! average). Where one book is much bigger than the rest, as in a family's own instance, that
//! average is large, so the statement was planned again at every request, and planning cost
//! three times what running it did. Behind `(SELECT $n)` the values are unknown to both plans
//! alike, the estimates agree, and after its first five executions the statement keeps the
//! generic plan, which is the same plan: an index-only walk of `(user_id, id)`.

use diesel::expression::{AppearsOnTable, Expression, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{BigInt, Bool};

/// `contacts.id = ANY(ARRAY(the ids of the owner's page))`: the page's ids come from an
/// index-only walk of `(user_id, id)` over `skip + limit` entries, and the rows are read by
/// primary key.
#[derive(Debug, Clone, Copy, QueryId)]
pub(super) struct OnPage {
    /// The book's owner.
    pub(super) owner: i64,
    /// Entries stepped over.
    pub(super) skip: i64,
    /// Ids at most.
    pub(super) limit: i64,
}

impl Expression for OnPage {
    type SqlType = Bool;
}

// The condition names its tables itself, so it fits any query over `contacts`.
impl<QS> AppearsOnTable<QS> for OnPage {}

impl ValidGrouping<()> for OnPage {
    type IsAggregate = is_aggregate::Never;
}

impl QueryFragment<Pg> for OnPage {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "\"contacts\".\"id\" = ANY(ARRAY(SELECT \"page_ids\".\"id\" FROM \"contacts\" AS \"page_ids\" \
             WHERE \"page_ids\".\"user_id\" = (SELECT ",
        );
        out.push_bind_param::<BigInt, _>(&self.owner)?;
        out.push_sql(") ORDER BY \"page_ids\".\"id\" OFFSET (SELECT ");
        out.push_bind_param::<BigInt, _>(&self.skip)?;
        out.push_sql(") LIMIT (SELECT ");
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(")))");
        Ok(())
    }
}
