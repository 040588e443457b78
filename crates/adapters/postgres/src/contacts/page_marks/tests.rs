//! Deep pages through the marks agree, position for position, with a plain walk of the book,
//! whatever was inserted or deleted in between, and really start from the marks while current.

use contacts_domain::contact::{ContactFilter, ContactId, ContactRepository, Listed};

use super::*;
use crate::contacts::owned;
use crate::contacts::tests::{Book, book as empty_book};
use crate::test_fixtures::{create_user, execute_sql, new_contact};

/// Contacts in the book under test: three and a half strides.
const ROWS: i64 = 3_500;

/// The owner's book with [`ROWS`] contacts, and a neighbour's 10 interleaved among their ids.
async fn book() -> Book {
    let book = empty_book().await;
    let neighbour = create_user(&book.db, "neighbour").await;
    let sql = format!(
        "INSERT INTO contacts (user_id, book_id, uid, href, card, first_name, last_name) \
         SELECT CASE WHEN g % 350 = 0 THEN {n} ELSE {o} END, b.id, 'u' || g, 'u' || g || '.vcf', 'BEGIN:VCARD', \
         'First' || g, 'Last' || g \
         FROM generate_series(1, {rows}) g \
         JOIN address_books b ON b.user_id = CASE WHEN g % 350 = 0 THEN {n} ELSE {o} END",
        o = book.owner.0,
        n = neighbour.0,
        rows = ROWS + 10,
    );
    execute_sql(&book.db, &sql).await.expect("fill the book");
    book
}

impl Book {
    /// The ids and total the repository lists at `skip`.
    async fn listed(&self, skip: i64) -> (Vec<i64>, i64) {
        let (page, total) =
            self.repo.list(self.owner, &ContactFilter::default(), Page { skip, limit: 7 }).await.unwrap();
        (page.iter().map(|c| c.id.0).collect(), total)
    }

    /// The ids at `skip` by a plain walk, and the owner's real number of contacts.
    async fn walked(&self, skip: i64) -> (Vec<i64>, i64) {
        let mut conn = self.db.conn().await.unwrap();
        let ids = owned(self.owner)
            .select(contacts::id)
            .order(contacts::id)
            .offset(skip)
            .limit(7)
            .load(&mut conn)
            .await
            .unwrap();
        let total: i64 = owned(self.owner).count().get_result(&mut conn).await.unwrap();
        (ids, total)
    }

    async fn stale(&self) -> bool {
        let mut conn = self.db.conn().await.unwrap();
        diesel::select(contact_page_marks_stale(self.owner.0)).get_result(&mut conn).await.unwrap()
    }

    /// Every deep position of interest, listed twice (the first may refresh the marks).
    async fn assert_agree(&self, when: &str) {
        for skip in [1_000, 1_001, 1_999, 2_000, 2_500, 3_000, 3_493, 3_499, 3_500, 4_000] {
            let walked = self.walked(skip).await;
            assert_eq!(self.listed(skip).await, walked, "{when}: skip {skip}");
            assert_eq!(self.listed(skip).await, walked, "{when}: skip {skip}, again");
        }
        assert!(!self.stale().await, "{when}: a deep page leaves the marks current");
    }
}

#[tokio::test]
async fn deep_pages_agree_with_a_plain_walk_across_inserts_and_deletes() {
    let book = book().await;
    assert!(book.stale().await, "no marks before the first deep page");
    book.assert_agree("fresh").await;

    // A delete near the start moves every later contact one position forward.
    let (first, _) = book.walked(0).await;
    assert!(book.repo.delete(book.owner, ContactId(first[0])).await.unwrap());
    assert!(book.stale().await, "a delete makes the marks stale");
    book.assert_agree("after a delete").await;

    // A new contact goes to the end; a batch deleted in the middle moves the rest.
    book.repo.create(book.owner, new_contact("New", "Comer", "new@example.org")).await.unwrap();
    assert!(book.stale().await, "an insert makes the marks stale");
    book.assert_agree("after an insert").await;
    execute_sql(
        &book.db,
        &format!("DELETE FROM contacts WHERE user_id = {} AND first_name LIKE 'First15%'", book.owner.0),
    )
    .await
    .unwrap();
    book.assert_agree("after a batch delete").await;

    // An edit moves nobody: the marks stay current.
    let (some, _) = book.walked(2_000).await;
    execute_sql(&book.db, &format!("UPDATE contacts SET first_name = 'Edited' WHERE id = {}", some[0])).await.unwrap();
    assert!(!book.stale().await, "an edit keeps the marks");
}

#[tokio::test]
async fn a_current_mark_is_where_a_deep_page_starts() {
    let book = book().await;
    let (expected, _) = book.walked(2_000).await;
    assert_eq!(book.listed(2_000).await.0, expected);
    // Shift the current marks one stride on: a page that starts from them shows it.
    execute_sql(&book.db, &format!("UPDATE contact_page_marks SET marks = marks[2:] WHERE user_id = {}", book.owner.0))
        .await
        .unwrap();
    let (shifted, _) = book.walked(3_000).await;
    assert_eq!(book.listed(2_000).await.0, shifted, "the page started from the second mark");
    // Marks of another version are never used.
    execute_sql(
        &book.db,
        &format!("UPDATE contact_page_marks SET version = version - 1 WHERE user_id = {}", book.owner.0),
    )
    .await
    .unwrap();
    assert_eq!(book.listed(2_000).await.0, expected, "stale marks are ignored");
}

#[tokio::test]
async fn the_marks_are_every_strideth_position() {
    let book = book().await;
    book.listed(STRIDE).await;
    let mut conn = book.db.conn().await.unwrap();
    let marks: Vec<i64> = diesel::sql_query(format!(
        "SELECT unnest(marks) AS id FROM contact_page_marks WHERE user_id = {}",
        book.owner.0
    ))
    .load::<Id>(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|row| row.id)
    .collect();
    // The SQL functions' stride and this module's STRIDE are the same number.
    let mut expected = Vec::new();
    for position in (STRIDE..ROWS).step_by(STRIDE as usize) {
        expected.push(book.walked(position).await.0[0]);
    }
    assert_eq!(marks, expected);
}

#[tokio::test]
async fn a_computation_under_way_is_not_started_again() {
    let book = book().await;
    let expected = book.walked(2_000).await;
    // Another request holds the owner's computation lock, as while it walks the book.
    let mut busy = book.db.conn().await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut busy).await.unwrap();
    diesel::sql_query(format!("SELECT pg_advisory_xact_lock(1835102827, hashint8({}))", book.owner.0))
        .execute(&mut busy)
        .await
        .unwrap();
    let listed = tokio::time::timeout(std::time::Duration::from_secs(10), book.listed(2_000))
        .await
        .expect("a deep page does not wait for another request's computation");
    assert_eq!(listed, expected);
    assert!(book.stale().await, "the page left the computation to the request under way");
    diesel::sql_query("COMMIT").execute(&mut busy).await.unwrap();
    assert_eq!(book.listed(2_000).await, expected);
    assert!(!book.stale().await, "once the lock is free, a deep page computes the marks");
}

#[tokio::test]
async fn a_page_beyond_any_book_is_empty_with_the_total() {
    let book = book().await;
    book.listed(STRIDE).await;
    assert!(!book.stale().await, "the marks are current, so the function would index them");
    let total = book.walked(0).await.1;
    // `skip / STRIDE` past `i32::MAX` is no array subscript PostgreSQL takes; the first skip is
    // the deepest the function is still asked for.
    for skip in [STRIDE * i64::from(i32::MAX) + STRIDE - 1, 1 << 41, i64::MAX] {
        assert_eq!(book.listed(skip).await, (vec![], total), "skip {skip}");
        let listed = book.repo.book_page(book.owner, Page { skip, limit: 7 }, None).await.unwrap();
        assert_eq!(listed, Listed::Read { contacts: vec![], total, stamp: None }, "book page, skip {skip}");
        // A search never indexes the marks; its paths (new, kept after a first page) survive
        // such a skip too.
        let filter = ContactFilter { first_name: Some("First".into()), ..ContactFilter::default() };
        for (round, first) in [("new", None), ("kept", Some(0))] {
            if let Some(first) = first {
                book.repo.list(book.owner, &filter, Page { skip: first, limit: 7 }).await.unwrap();
            }
            let (page, matched) = book.repo.list(book.owner, &filter, Page { skip, limit: 7 }).await.unwrap();
            assert_eq!((page.len(), matched), (0, total), "{round} search, skip {skip}");
        }
    }
}

#[tokio::test]
async fn the_page_function_carries_the_generic_plan_setting() {
    // What plpgsql prepares inside `contact_page_ids` is not visible from outside; the function
    // carries the setting that keeps those plans generic (see migration 000080).
    let book = empty_book().await;
    let mut conn = book.db.conn().await.unwrap();
    let settings: Vec<Setting> =
        diesel::sql_query("SELECT unnest(proconfig) AS setting FROM pg_proc WHERE proname = 'contact_page_ids'")
            .load(&mut conn)
            .await
            .unwrap();
    let settings: Vec<&str> = settings.iter().map(|s| s.setting.as_str()).collect();
    assert_eq!(settings, ["plan_cache_mode=force_generic_plan"]);
}

/// One setting of a function, as `sql_query` loads it.
#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    setting: String,
}

/// One id, as `sql_query` loads it.
#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}
