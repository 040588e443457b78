//! Substring search (`first_name`, `last_name`, `email`, `q`) on `contact_search`, the narrow
//! copy of the searchable text the triggers keep (migration `2026-12-01-000090_contact_search`).
//!
//! The exact total needs every match read and rechecked, since the trigram index only narrows
//! the candidates. On `contacts` each recheck visited a wide row (it holds the whole vCard) and
//! lowered it for `ILIKE`; here the rows are small and already lowered. The statement collects
//! the matches' ids in order, counts them and picks the page's ids from them, then reads only
//! those rows from `contacts` by key. It also returns the ids and the owner's search stamp, so
//! the next page of the same search can skip all of that ([`super::search_cache`]).
//!
//! Every value reaches the statement as `(SELECT $n)`, as in [`super::page_ids`]: the plan
//! cannot depend on them, so PostgreSQL keeps its generic plan after the first five executions
//! instead of planning every search again. The pattern is lowered by PostgreSQL's own `lower()`,
//! once a statement: `lower(x) LIKE lower(p)` is how PostgreSQL evaluates `x ILIKE p` in a
//! multibyte database, so the matches are `ILIKE`'s.
//!
//! The parts written here leave their names unquoted (all lowercase, none reserved), so that a
//! `q` search stays within the 1,024 bytes `pg_stat_activity` shows of a statement by default
//! (`track_activity_query_size`): an operator looking at a slow search, and `just bench` taking
//! its plan, see all of it.

use diesel::SelectableHelper;
use diesel::dsl::AsSelect;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};

use contacts_domain::contact::{ContactFilter, Page};
use contacts_domain::user::UserId;

use super::search_cache::{MOST_IDS_A_SEARCH, SearchKey};
use super::search_texts::{PlainNeedle, plain};
use super::{ContactRow, RowSql};

/// The three fields joined by U+001F, exactly as `contact_search_text_idx` is defined: the
/// planner matches the index by this expression.
const JOINED: &str = "(s.first_name || E'\\x1f' || s.last_name || E'\\x1f' || coalesce(s.email, ''))";

/// The separator of [`JOINED`]: a needle containing it could match across two fields.
const SEPARATOR: char = '\u{1f}';

/// Which fields a needle must be found in; the first three in the order of [`JOINED`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Field {
    /// The first name.
    FirstName,
    /// The last name.
    LastName,
    /// The email.
    Email,
    /// Any of the three (`q`).
    Any,
}

impl Field {
    fn column(self) -> &'static str {
        match self {
            Field::FirstName => "s.first_name",
            Field::LastName => "s.last_name",
            Field::Email => "s.email",
            Field::Any => JOINED,
        }
    }
}

/// One needle of the filter.
#[derive(Debug, Clone)]
struct Needle {
    field: Field,
    /// The LIKE pattern (`%`, `_` and `\` escaped).
    pattern: String,
    /// Whether the index can look the needle up (see [`has_trigram`]).
    indexed: bool,
    /// The needle lowered, when a kept copy of the book can match it ([`plain`]).
    plain: Option<Vec<u8>>,
}

/// The owner's contacts matching a filter with at least one field set.
#[derive(Debug, Clone)]
pub(super) struct Matches {
    owner: i64,
    /// The filter's needles, in a fixed order so the same filters make the same statement.
    needles: Vec<Needle>,
}

/// Whether `needle` holds three letters or digits in a row, so `pg_trgm` has a trigram to look
/// it up by. A needle without one would make the index read every entry of its text column
/// (for every owner: the owner's key does not narrow another column's full scan); such a
/// needle is only rechecked, on the owner's rows the index's owner key finds. Only the plan
/// depends on this guess, never the matches.
fn has_trigram(needle: &str) -> bool {
    let mut run = 0;
    needle.chars().any(|c| {
        run = if c.is_alphanumeric() { run + 1 } else { 0 };
        run == 3
    })
}

impl Matches {
    /// The matches of `filter` among the owner's contacts.
    pub(super) fn new(owner: UserId, filter: &ContactFilter) -> Self {
        let fields = [
            (Field::FirstName, &filter.first_name),
            (Field::LastName, &filter.last_name),
            (Field::Email, &filter.email),
            (Field::Any, &filter.q),
        ];
        let needles = fields
            .into_iter()
            .filter_map(|(field, v)| {
                v.as_deref().map(|v| Needle {
                    field,
                    pattern: substring_pattern(v),
                    indexed: has_trigram(v),
                    plain: plain(v),
                })
            })
            .collect();
        Self { owner: owner.0, needles }
    }

    /// What identifies this search among the kept ones: the owner and the needles.
    pub(super) fn key(&self) -> SearchKey {
        (self.owner, self.needles.iter().map(|n| (n.field as u8, n.pattern.clone())).collect())
    }

    /// The needles as a kept copy of the book matches them, when it can match every one.
    pub(super) fn plain_needles(&self) -> Option<Vec<PlainNeedle>> {
        self.needles.iter().map(|n| n.plain.clone().map(|bytes| PlainNeedle { field: n.field, bytes })).collect()
    }

    /// The statement of one page of the matches, each row with the number of matches, the
    /// owner's search stamp, and (on the first row only) every match's id.
    pub(super) fn page(self, page: Page) -> MatchPage {
        // Array subscripts are `integer`s, 1-based; no array is anywhere near `i32::MAX` long,
        // so a clamped bound past it selects what the real one would: nothing.
        let bound = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
        let first = bound(page.skip.saturating_add(1));
        let last = bound(page.skip.saturating_add(page.limit));
        MatchPage { columns: ContactRow::as_select(), matches: self, first, last }
    }

    /// The statement counting the matches (for a page past the end, which has no row to carry
    /// the count).
    pub(super) fn count(self) -> MatchCount {
        MatchCount(self)
    }

    /// `FROM contact_search AS s WHERE …`: the owner and every needle, each found by
    /// `contact_search_text_idx` where it can be and rechecked on its own field.
    fn walk_from_where<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(" FROM contact_search AS s WHERE s.user_id = (SELECT ");
        out.push_bind_param::<BigInt, _>(&self.owner)?;
        out.push_sql(")");
        for Needle { field, pattern, indexed, .. } in &self.needles {
            if *indexed {
                // Found in the joined text (the index's expression)...
                like(out, JOINED, pattern)?;
            }
            match field {
                // ... and inside one field: a needle without the separator found in the joined
                // text lies inside one field already.
                Field::Any if *indexed && !pattern.contains(SEPARATOR) => {}
                Field::Any => {
                    out.push_sql(" AND (");
                    for (i, one) in [Field::FirstName, Field::LastName, Field::Email].into_iter().enumerate() {
                        out.push_sql(if i > 0 { " OR " } else { "" });
                        column_like(out, one.column(), pattern)?;
                    }
                    out.push_sql(")");
                }
                one => like(out, one.column(), pattern)?,
            }
        }
        Ok(())
    }
}

/// ` AND <column> LIKE (SELECT lower($n))`.
fn like<'b>(out: &mut AstPass<'_, 'b, Pg>, column: &'static str, pattern: &'b String) -> QueryResult<()> {
    out.push_sql(" AND ");
    column_like(out, column, pattern)
}

/// `<column> LIKE (SELECT lower($n))`: the pattern lowered by PostgreSQL, once a statement.
fn column_like<'b>(out: &mut AstPass<'_, 'b, Pg>, column: &'static str, pattern: &'b String) -> QueryResult<()> {
    out.push_sql(column);
    out.push_sql(" LIKE (SELECT lower(");
    out.push_bind_param::<Text, _>(pattern)?;
    out.push_sql("))");
    Ok(())
}

/// A LIKE pattern matching `needle` anywhere, with `%`, `_` and `\` taken literally.
pub(super) fn substring_pattern(needle: &str) -> String {
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

/// One page of the matches in id order, each row with the number of matches, the owner's search
/// stamp (NULL when the owner has no `contact_counts` row), and on its first row the ids of
/// every match in order (NULL on the other rows, and on all of them when there are more than
/// [`MOST_IDS_A_SEARCH`] matches, which are not kept).
pub(super) struct MatchPage {
    columns: AsSelect<ContactRow, Pg>,
    matches: Matches,
    /// The 1-based position of the page's first match.
    first: i32,
    /// The 1-based position of its last one.
    last: i32,
}

/// A row of [`MatchPage`].
pub(super) type MatchRow = (ContactRow, i64, Option<i64>, Option<Vec<i64>>);

impl Query for MatchPage {
    type SqlType = (RowSql, BigInt, Nullable<BigInt>, Nullable<Array<BigInt>>);
}

/// The SQL depends on which fields are set: prepared statements are cached by their text.
impl QueryId for MatchPage {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for MatchPage {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT ");
        self.columns.walk_ast(out.reborrow())?;
        out.push_sql(", m.total, m.stamp, CASE WHEN contacts.id = m.ids[(SELECT ");
        out.push_bind_param::<Integer, _>(&self.first)?;
        out.push_sql(&format!(")] AND m.total <= {MOST_IDS_A_SEARCH} THEN m.ids END"));
        // `"contacts"` quoted, as diesel writes it in the columns: `bench/plans.py` finds the
        // statements that read contacts by that name.
        out.push_sql(
            " FROM \"contacts\" INNER JOIN (SELECT a.ids, cardinality(a.ids)::bigint AS total, \
             (SELECT c.version + c.search_version FROM contact_counts AS c WHERE c.user_id = (SELECT ",
        );
        out.push_bind_param::<BigInt, _>(&self.matches.owner)?;
        // Ordered by `contact_id + 0`: the same order, but not the primary key's, which the
        // planner could otherwise walk and filter row by row although every match is needed (a
        // bitmap scan of the index and a sort of the matches is far cheaper).
        out.push_sql(")) AS stamp FROM (SELECT ARRAY(SELECT s.contact_id");
        self.matches.walk_from_where(&mut out)?;
        // `OFFSET 0` keeps the array a subquery's output: pulled up into `m`, the `ARRAY(…)`
        // was copied into each of its five uses and the matches were read five times.
        out.push_sql(" ORDER BY s.contact_id + 0) AS ids OFFSET 0) AS a) AS m ON contacts.id = ANY(m.ids[(SELECT ");
        out.push_bind_param::<Integer, _>(&self.first)?;
        out.push_sql(") : (SELECT ");
        out.push_bind_param::<Integer, _>(&self.last)?;
        // The owner again on `contacts`: the search row's owner is a copy, this is the source.
        out.push_sql(")]) WHERE contacts.user_id = (SELECT ");
        out.push_bind_param::<BigInt, _>(&self.matches.owner)?;
        out.push_sql(") ORDER BY contacts.id");
        Ok(())
    }
}

/// The number of matches.
#[derive(Debug, Clone)]
pub(super) struct MatchCount(Matches);

impl Query for MatchCount {
    type SqlType = BigInt;
}

/// The SQL depends on which fields are set: prepared statements are cached by their text.
impl QueryId for MatchCount {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for MatchCount {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("SELECT count(*)");
        self.0.walk_from_where(&mut out)
    }
}

#[cfg(test)]
mod tests {
    use contacts_domain::contact::{ContactFilter, Page};
    use contacts_domain::user::UserId;
    use diesel::pg::Pg;

    use super::{Matches, has_trigram};

    #[test]
    fn a_q_search_fits_what_pg_stat_activity_shows_of_a_statement() {
        let filter = ContactFilter { q: Some("ann".into()), ..ContactFilter::default() };
        let page = Matches::new(UserId(7), &filter).page(Page { skip: 0, limit: 20 });
        let shown = diesel::debug_query::<Pg, _>(&page).to_string();
        let sql = shown.split(" -- binds:").next().unwrap_or_default();
        assert!(sql.contains("contact_search"), "{sql}");
        // `track_activity_query_size` is 1,024 bytes by default, its last one the terminator.
        assert!(sql.len() < 1024, "{} bytes: {sql}", sql.len());
    }

    #[test]
    fn a_needle_has_a_trigram_with_three_letters_or_digits_in_a_row() {
        for needle in ["ann", "x4711", "c1234@", "Ölé", "50% ann", "日本語"] {
            assert!(has_trigram(needle), "{needle}");
        }
        for needle in ["a", "an", "a.b.c", "%_\\", "@.", "ab cd", ""] {
            assert!(!has_trigram(needle), "{needle}");
        }
    }
}
