//! [`ProbeQuery`]: the first read of a birthday list, one statement whatever the list's
//! length.
//!
//! A short list (the usual case) is read whole by this one statement. A long one (a year of a
//! big book) must not be: it is read later in chunks planned from a count per day. The
//! statement counts first, on the `(user_id, birthday_md)` index alone, and reads the contacts
//! only when the count allows, so a long list costs its count and nothing else; it used to cost
//! a probe of one row more than a chunk, read and thrown away, and a second statement to count.
//!
//! ```sql
//! SELECT c.*, CASE WHEN d.total > $most THEN d.days END, CASE WHEN d.total > $most THEN d.counts END,
//!        d.stamp
//! FROM (SELECT sum(n) AS total, array_agg(md) AS days, array_agg(n) AS counts,
//!              (<the owner's book stamp>) AS stamp
//!       FROM (<count per day>) per_day) d
//! LEFT JOIN LATERAL (<the contacts> AND d.total <= $most ORDER BY id OFFSET 0) c ON true
//! ```
//!
//! The `OFFSET 0` keeps the lateral subquery a subquery (its `ORDER BY` would too, but that is
//! there for the order): pulled up into the join, the count's condition would become a join
//! filter that reads every contact and drops it; in the subquery it is a one-time filter that
//! skips the scan (`big_book_queries_use_their_indexes` checks that it never runs). The left
//! join answers one row with no contact when the list is empty or long, so every outcome
//! arrives in the one round trip. Every row carries the owner's book stamp of the same
//! snapshot, so the list can be kept and asked about again (`kept_answers` in the REST adapter).
//!
//! Every value but the book stamp's (a lookup by primary key, planned alike for any owner) is
//! behind `(SELECT $n)`, as in [`super::page_ids`], so PostgreSQL keeps a generic
//! plan after five executions: planned for its values, this statement took longer to plan than
//! to run for a small book (in `just bench`, the small book's birthday list cost PostgreSQL
//! twice what the simpler statement before it had).

use diesel::SelectableHelper;
use diesel::dsl::AsSelect;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Array, BigInt, Nullable, SmallInt};

use super::ContactRow;

/// The statement; its rows load as [`ProbeRow`].
pub(super) struct ProbeQuery {
    columns: AsSelect<ContactRow, Pg>,
    owner: i64,
    /// The days' `birthday_md` codes.
    codes: Vec<i16>,
    /// The longest list read whole.
    most: i64,
    /// The owner's book stamp, read in the same snapshot.
    stamp: super::OwnersBookStamp,
}

/// One row of the probe: a contact of a short list (none when the list is empty or long), for a
/// long list the days with birthdays and their counts, in the same order, and the owner's book
/// stamp (`None` for an owner who never had a contact).
pub(super) type ProbeRow = (Option<ContactRow>, Option<Vec<i16>>, Option<Vec<i64>>, Option<i64>);

impl ProbeQuery {
    /// The probe of the owner's birthdays on `codes`, read whole if there are at most `most`.
    pub(super) fn new(owner: i64, codes: Vec<i16>, most: i64) -> Self {
        Self { columns: ContactRow::as_select(), owner, codes, most, stamp: super::owners_book_stamp(owner) }
    }

    /// `(SELECT $n)`: the longest list read whole.
    fn most<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("(SELECT ");
        out.push_bind_param::<BigInt, _>(&self.most)?;
        out.push_sql(")");
        Ok(())
    }

    /// `CASE WHEN "d"."total" > (SELECT $n) THEN "d".<column> END`: the counts of a long list only.
    fn if_long<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>, column: &str) -> QueryResult<()> {
        out.push_sql("CASE WHEN \"d\".\"total\" > ");
        self.most(out)?;
        for part in [" THEN \"d\".\"", column, "\" END"] {
            out.push_sql(part);
        }
        Ok(())
    }
}

/// `"user_id" = (SELECT $n) AND "birthday_md" = ANY((SELECT $m)::smallint[])` on the table
/// named `table`: the owner's birthdays on the days of `codes`, the values hidden from the
/// planner (also the condition of [`super::birthday_days`]).
pub(super) fn owners_days<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    table: &str,
    owner: &'b i64,
    codes: &'b Vec<i16>,
) -> QueryResult<()> {
    for part in ["\"", table, "\".\"user_id\" = (SELECT "] {
        out.push_sql(part);
    }
    out.push_bind_param::<BigInt, _>(owner)?;
    for part in [") AND \"", table, "\".\"birthday_md\" = ANY((SELECT "] {
        out.push_sql(part);
    }
    out.push_bind_param::<Array<SmallInt>, _>(codes)?;
    out.push_sql(")::smallint[])");
    Ok(())
}

/// A contact row that may be missing: what `c.*` of the left join holds.
type MaybeRowSql = diesel::dsl::SqlTypeOf<AsSelect<Option<ContactRow>, Pg>>;

impl Query for ProbeQuery {
    type SqlType = (MaybeRowSql, Nullable<Array<SmallInt>>, Nullable<Array<BigInt>>, Nullable<BigInt>);
}

/// The statement's text is fixed, so diesel keeps it prepared.
impl QueryId for ProbeQuery {
    type QueryId = Self;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl QueryFragment<Pg> for ProbeQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT \"c\".*, ");
        self.if_long(&mut out, "days")?;
        out.push_sql(", ");
        self.if_long(&mut out, "counts")?;
        out.push_sql(", \"d\".\"stamp\"");
        // The count per day: an index-only scan of (user_id, birthday_md) where the visibility
        // map allows; and the book stamp, by key (a primary-key lookup whatever the owner, so
        // its value need not be hidden from the planner).
        out.push_sql(
            " FROM (SELECT coalesce(sum(\"n\"), 0)::bigint AS \"total\", array_agg(\"md\") AS \"days\", \
             array_agg(\"n\") AS \"counts\", ",
        );
        self.stamp.walk_ast(out.reborrow())?;
        out.push_sql(
            " AS \"stamp\" FROM (SELECT \"per_day\".\"birthday_md\" AS \"md\", count(*) AS \"n\" \
             FROM \"contacts\" AS \"per_day\" WHERE ",
        );
        owners_days(&mut out, "per_day", &self.owner, &self.codes)?;
        out.push_sql(" GROUP BY \"per_day\".\"birthday_md\") AS \"per_day\") AS \"d\" LEFT JOIN LATERAL (SELECT ");
        self.columns.walk_ast(out.reborrow())?;
        out.push_sql(" FROM \"contacts\" WHERE ");
        owners_days(&mut out, "contacts", &self.owner, &self.codes)?;
        out.push_sql(" AND \"d\".\"total\" <= ");
        self.most(&mut out)?;
        out.push_sql(" ORDER BY \"contacts\".\"id\" OFFSET 0) AS \"c\" ON true");
        Ok(())
    }
}
