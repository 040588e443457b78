//! Deep pages of the whole book (`?skip=45000`) without walking every skipped entry: the
//! database keeps, per owner and per version of the book's membership, the id at every 1,000th
//! position (`contact_page_marks`, migration `2026-12-01-000070_page_marks`), and a page starts
//! at the mark below it. Marks go stale with every insert or delete of the owner's contacts; a
//! page then walks from the start as before, and this module computes them again.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use contacts_domain::contact::Page;
use contacts_domain::user::UserId;

use super::{ContactRow, RowSql, stored_count};
use crate::schema::contacts;

/// Positions between two marks (the SQL functions' own constant): below it a page has no mark
/// to start from, and the plain walk is at most this long anyway.
pub(super) const STRIDE: i64 = 1_000;

diesel::define_sql_function! {
    /// The ids of the owner's page, in id order (a set of rows): from the mark below `skip`
    /// while the marks are current, from the start otherwise.
    fn contact_page_ids(owner: BigInt, skip: BigInt, lim: BigInt) -> BigInt;
}

diesel::define_sql_function! {
    /// Whether the owner's marks are missing or of an older version of the book.
    fn contact_page_marks_stale(owner: BigInt) -> Bool;
}

diesel::define_sql_function! {
    /// Computes and stores the owner's marks unless another request is computing them (one
    /// walk of the book, not one per concurrent deep page); the number stored, NULL when it
    /// skipped or a newer set is there.
    fn try_refresh_contact_page_marks(owner: BigInt) -> Nullable<Integer>;
}

/// A row of a deep page: the contact, the stored total, whether the marks were stale.
type MarkedRow = (ContactRow, Option<i64>, Option<bool>);

/// The statement of a deep page: its rows with the stored total and whether the marks were
/// stale.
pub(super) fn marked_page<'a>(
    owner: UserId,
    page: Page,
) -> contacts::BoxedQuery<'a, Pg, (RowSql, Nullable<BigInt>, Nullable<Bool>)> {
    let ids = diesel::select(contact_page_ids(owner.0, page.skip, page.limit));
    contacts::table
        .into_boxed()
        .filter(contacts::id.eq_any(diesel::dsl::array::<BigInt, _>(ids)))
        // A scalar subquery, so PostgreSQL asks once a page (an InitPlan), not once a row: the
        // function is not inlined, and calling it for each of 20 rows cost a third of the page
        // (side measurement, pgbench: 3,163–3,372 pages a second per row, 4,818–5,295 once).
        .select((
            ContactRow::as_select(),
            stored_count(owner),
            diesel::select(contact_page_marks_stale(owner.0)).single_value(),
        ))
        .order(contacts::id)
}

/// Whether a page at `skip` lies past the end of any book: the SQL function looks its mark up
/// as `marks[skip / STRIDE]`, and PostgreSQL's array subscripts are `integer`s, so past
/// `i32::MAX` strides it would fail ("integer out of range") instead of answering. No book
/// comes near: that many contacts would be over 2 × 10¹² rows, beyond a table's 32 TB.
fn beyond_any_book(skip: i64) -> bool {
    i32::try_from(skip / STRIDE).is_err()
}

/// A page at `page.skip` (at least [`STRIDE`]) with the stored total on every row, one
/// statement. When the marks were stale, they are computed again before returning (unless a
/// concurrent request already is), so the next deep page of the same book starts from them.
/// A page [`beyond_any_book`] is empty without asking (the caller reads the total).
pub(super) async fn page(
    conn: &mut AsyncPgConnection,
    owner: UserId,
    page: Page,
) -> QueryResult<Vec<(ContactRow, Option<i64>)>> {
    if beyond_any_book(page.skip) {
        return Ok(Vec::new());
    }
    let rows: Vec<MarkedRow> = marked_page(owner, page).load(conn).await?;
    // A page past the end has no row to say so; it walked the whole book either way.
    if rows.as_slice().first().is_some_and(|(_, _, stale)| *stale == Some(true)) {
        diesel::select(try_refresh_contact_page_marks(owner.0)).execute(conn).await?;
    }
    Ok(rows.into_iter().map(|(row, total, _)| (row, total)).collect())
}

#[cfg(test)]
mod tests;
