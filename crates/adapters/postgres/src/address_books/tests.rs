use std::sync::Mutex;

use chrono::Duration;

use contacts_domain::addressbook::TOMBSTONE_RETENTION;
use contacts_domain::contact::vcard::record;

use super::*;
use crate::test_fixtures::{TwoUsers, assert_violates, execute_sql, two_users};
use diesel::result::DatabaseErrorKind;

/// A fresh database with the books store and two users (each with the default book).
type Fixture = TwoUsers<PgAddressBooks>;

async fn fixture() -> Fixture {
    two_users(PgAddressBooks::new).await
}

/// A vCard 4.0 with this UID and name.
fn card(uid: &str, name: &str) -> CardRecord {
    record(&format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{name}\r\nEND:VCARD\r\n")).expect("a valid card")
}

/// A precondition that lets every write through.
fn always(_: Option<&StoredCard>) -> bool {
    true
}

impl Fixture {
    async fn put(&self, owner: UserId, book: &str, href: &str, uid: &str) -> CardWrite {
        self.store.put_card(owner, book, href, &card(uid, "Ada Lovelace"), &always).await.expect("put a card")
    }

    async fn delete(&self, owner: UserId, book: &str, href: &str) -> CardWrite {
        self.store.delete_card(owner, book, href, &always).await.expect("delete a card")
    }

    async fn book(&self, owner: UserId, name: &str) -> Book {
        self.store.book(owner, name).await.expect("read a book").expect("the book exists")
    }

    /// `(href, seq, deleted)` of every change after `since`.
    async fn log(&self, owner: UserId, name: &str, since: i64) -> Vec<(String, i64, bool)> {
        let (_, changes) = self
            .store
            .changes(owner, name, LogRange { after: since, until: None, limit: None })
            .await
            .expect("read changes")
            .expect("a book");
        changes.into_iter().map(|c| (c.href, c.seq, c.card.is_none())).collect()
    }

    /// Moves every change-log entry of `owner`'s books `days` into the past.
    async fn age_log(&self, owner: UserId, days: i64) {
        execute_sql(
            &self.db,
            &format!(
                "UPDATE card_changes SET changed_at = changed_at - interval '{days} days' \
                 WHERE book_id IN (SELECT id FROM address_books WHERE user_id = {})",
                owner.0
            ),
        )
        .await
        .expect("age the change log");
    }

    /// What the server's maintenance would purge now.
    async fn purge(&self) -> u64 {
        self.store.purge_tombstones(Utc::now() - TOMBSTONE_RETENTION).await.expect("purge tombstones")
    }
}

#[tokio::test]
async fn young_tombstones_stay_and_old_ones_go_raising_the_floor() {
    let f = fixture().await;
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await;
    f.put(f.ada, DEFAULT_BOOK, "b.vcf", "b").await;
    assert_eq!(f.delete(f.ada, DEFAULT_BOOK, "a.vcf").await, CardWrite::Created);
    let before = f.book(f.ada, DEFAULT_BOOK).await;
    assert_eq!((before.sync_seq, before.sync_floor), (3, 0));

    assert_eq!(f.purge().await, 0, "a fresh tombstone is kept");
    assert_eq!(f.log(f.ada, DEFAULT_BOOK, 0).await, vec![("b.vcf".into(), 2, false), ("a.vcf".into(), 3, true)]);

    f.age_log(f.ada, TOMBSTONE_RETENTION.num_days() + 1).await;
    assert_eq!(f.purge().await, 1);
    let after = f.book(f.ada, DEFAULT_BOOK).await;
    assert_eq!((after.sync_seq, after.sync_floor), (3, 3), "the floor is the newest tombstone purged");
    // Live cards stay in the log however old their entry is: a full sync needs them.
    assert_eq!(f.log(f.ada, DEFAULT_BOOK, 0).await, vec![("b.vcf".into(), 2, false)]);
    assert_eq!(f.purge().await, 0, "nothing left to purge");
}

#[tokio::test]
async fn the_floor_only_rises_and_only_in_books_that_lost_tombstones() {
    let f = fixture().await;
    assert!(f.store.create_book(f.ada, "work", "Work", "", &[]).await.unwrap());
    for (book, href) in [(DEFAULT_BOOK, "a.vcf"), ("work", "w.vcf")] {
        f.put(f.ada, book, href, href).await;
        f.delete(f.ada, book, href).await;
    }
    f.put(f.grace, DEFAULT_BOOK, "g.vcf", "g").await;
    f.delete(f.grace, DEFAULT_BOOK, "g.vcf").await;
    f.age_log(f.ada, 40).await;
    execute_sql(
        &f.db,
        &format!("UPDATE address_books SET sync_floor = 10 WHERE user_id = {} AND name = 'work'", f.ada.0),
    )
    .await
    .unwrap();

    assert_eq!(f.purge().await, 2, "ada's two old tombstones");
    assert_eq!(f.book(f.ada, DEFAULT_BOOK).await.sync_floor, 2);
    assert_eq!(f.book(f.ada, "work").await.sync_floor, 10, "a floor never goes down");
    let grace = f.book(f.grace, DEFAULT_BOOK).await;
    assert_eq!(grace.sync_floor, 0, "grace's young tombstone is kept");
    assert_eq!(f.log(f.grace, DEFAULT_BOOK, 0).await, vec![("g.vcf".into(), 2, true)]);
}

#[tokio::test]
async fn a_card_written_again_after_its_deletion_is_no_tombstone() {
    let f = fixture().await;
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await;
    f.delete(f.ada, DEFAULT_BOOK, "a.vcf").await;
    f.age_log(f.ada, 40).await;
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await;
    assert_eq!(f.purge().await, 0);
    assert_eq!(f.log(f.ada, DEFAULT_BOOK, 0).await, vec![("a.vcf".into(), 3, false)]);
}

#[tokio::test]
async fn a_book_held_by_a_writer_is_skipped_not_waited_for() {
    let f = fixture().await;
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await;
    f.delete(f.ada, DEFAULT_BOOK, "a.vcf").await;
    f.age_log(f.ada, 40).await;

    // Another session holds the book's row lock, as a writer of its log does.
    let mut writer = f.db.conn().await.unwrap();
    diesel::sql_query("BEGIN").execute(&mut writer).await.unwrap();
    diesel::sql_query(format!("SELECT id FROM address_books WHERE user_id = {} FOR UPDATE", f.ada.0))
        .execute(&mut writer)
        .await
        .unwrap();
    let purged = tokio::time::timeout(std::time::Duration::from_secs(5), f.purge()).await;
    assert_eq!(purged.expect("the purge does not wait for the lock"), 0);
    diesel::sql_query("ROLLBACK").execute(&mut writer).await.unwrap();

    assert_eq!(f.purge().await, 1, "purged on the next run");
    assert_eq!(f.book(f.ada, DEFAULT_BOOK).await.sync_floor, 2);
}

#[tokio::test]
async fn the_log_records_when_each_entry_was_written() {
    let f = fixture().await;
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await;
    f.age_log(f.ada, 5).await;
    f.delete(f.ada, DEFAULT_BOOK, "a.vcf").await;
    let mut conn = f.db.conn().await.unwrap();
    let written: DateTime<Utc> = card_changes::table.select(card_changes::changed_at).first(&mut conn).await.unwrap();
    assert!(Utc::now() - written < Duration::minutes(1), "the deletion rewrote the entry's time: {written}");
}

/// Every book name of `owner`, as listed.
async fn names(f: &Fixture, owner: UserId) -> Vec<String> {
    f.store.books(owner).await.unwrap().into_iter().map(|b| b.name).collect()
}

/// How many rows `sql` (a `SELECT count(*)`) counts.
async fn count(db: &Database, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = db.conn().await.unwrap();
    diesel::sql_query(sql).get_result::<Count>(&mut conn).await.unwrap().n
}

#[tokio::test]
async fn books_are_the_owners_with_the_default_first_and_names_exact() {
    let f = fixture().await;
    assert_eq!(names(&f, f.ada).await, vec![DEFAULT_BOOK]);
    assert!(f.store.create_book(f.ada, "b-work", "Work", "", &[]).await.unwrap());
    assert!(f.store.create_book(f.ada, "a home", "", "", &[]).await.unwrap());
    assert!(!f.store.create_book(f.ada, "b-work", "Again", "", &[]).await.unwrap(), "the name is taken");
    assert!(
        f.store.create_book(f.ada, "B-WORK", "", "", &[]).await.unwrap(),
        "names are compared exactly, case included"
    );
    assert!(f.store.create_book(f.grace, "b-work", "", "", &[]).await.unwrap(), "names are per owner");

    let listed = names(&f, f.ada).await;
    assert_eq!(listed[0], DEFAULT_BOOK);
    let mut rest = listed[1..].to_vec();
    rest.sort();
    assert_eq!(rest, vec!["B-WORK", "a home", "b-work"]);
    assert_eq!(names(&f, f.grace).await, vec![DEFAULT_BOOK, "b-work"]);

    let work = f.book(f.ada, "b-work").await;
    assert_eq!((work.display_name.as_str(), work.sync_seq, work.sync_floor), ("Work", 0, 0));
    assert!(f.store.book(f.ada, "nope").await.unwrap().is_none());
    assert!(f.store.book(f.grace, "a home").await.unwrap().is_none(), "another owner's book is missing");
}

#[tokio::test]
async fn renaming_and_deleting_touch_only_the_owners_book() {
    let f = fixture().await;
    f.store.create_book(f.ada, "work", "Work", "Colleagues", &[]).await.unwrap();
    f.put(f.ada, "work", "a.vcf", "a").await;
    f.put(f.ada, DEFAULT_BOOK, "b.vcf", "b").await;
    assert_eq!(f.book(f.ada, "work").await.description, "Colleagues");

    let label = |display_name, description| BookLabels { display_name, description };
    let relabel = async |owner, book, labels| {
        f.store.change_client_properties(owner, PropertyHolder::Book(book), labels, &[]).await.unwrap()
    };
    assert_eq!(relabel(f.grace, "work", label(Some("Mine"), None)).await, PropertiesWrite::Missing);
    assert_eq!(relabel(f.ada, "work", label(Some("Office"), None)).await, PropertiesWrite::Done);
    let work = f.book(f.ada, "work").await;
    assert_eq!((work.display_name.as_str(), work.description.as_str()), ("Office", "Colleagues"), "one label set");
    assert_eq!(relabel(f.ada, "work", label(None, Some("Everyone at the office"))).await, PropertiesWrite::Done);
    let work = f.book(f.ada, "work").await;
    assert_eq!((work.display_name.as_str(), work.description.as_str()), ("Office", "Everyone at the office"));
    assert_eq!(relabel(f.grace, "work", label(None, Some("Mine"))).await, PropertiesWrite::Missing);
    assert_eq!(relabel(f.ada, "work", label(Some(""), Some(""))).await, PropertiesWrite::Done);
    let work = f.book(f.ada, "work").await;
    assert_eq!((work.display_name.as_str(), work.description.as_str()), ("", ""), "both removed at once");
    let too_long = format!("UPDATE address_books SET description = repeat('x', 1001) WHERE id = {}", work.id);
    assert_violates(
        execute_sql(&f.db, &too_long).await,
        DatabaseErrorKind::CheckViolation,
        "address_books_description_length",
    );
    assert_eq!(relabel(f.ada, "nope", label(Some("x"), None)).await, PropertiesWrite::Missing);

    assert!(!f.store.delete_book(f.grace, "work").await.unwrap());
    let id = f.book(f.ada, "work").await.id;
    assert!(f.store.delete_book(f.ada, "work").await.unwrap());
    assert!(!f.store.delete_book(f.ada, "work").await.unwrap(), "already gone");
    assert_eq!(names(&f, f.ada).await, vec![DEFAULT_BOOK]);
    assert_eq!(count(&f.db, &format!("SELECT count(*) AS n FROM contacts WHERE book_id = {id}")).await, 0);
    assert_eq!(count(&f.db, &format!("SELECT count(*) AS n FROM card_changes WHERE book_id = {id}")).await, 0);
    assert_eq!(
        count(&f.db, &format!("SELECT count(*) AS n FROM contacts WHERE user_id = {}", f.ada.0)).await,
        1,
        "the other book's card stays"
    );

    // Made again under the same name: a new identity and a new log.
    f.store.create_book(f.ada, "work", "", "", &[]).await.unwrap();
    let again = f.book(f.ada, "work").await;
    assert_ne!(again.id, id);
    assert_eq!((again.sync_seq, again.sync_floor), (0, 0));
}

#[tokio::test]
async fn put_creates_replaces_and_honours_the_precondition_with_the_current_card() {
    let f = fixture().await;
    let seen = Mutex::new(Vec::new());
    let record_state = |current: Option<&StoredCard>| {
        seen.lock().unwrap().push(current.map(|c| c.card.clone()));
        true
    };
    let first = card("a", "Ada Lovelace");
    let second = card("a", "Augusta Lovelace");
    assert_eq!(
        f.store.put_card(f.ada, DEFAULT_BOOK, "a.vcf", &first, &record_state).await.unwrap(),
        CardWrite::Created
    );
    assert_eq!(
        f.store.put_card(f.ada, DEFAULT_BOOK, "a.vcf", &second, &record_state).await.unwrap(),
        CardWrite::Replaced
    );
    assert_eq!(*seen.lock().unwrap(), vec![None, Some(first.card.clone())]);
    let stored = f.store.card(f.ada, DEFAULT_BOOK, "a.vcf").await.unwrap().expect("the card");
    assert_eq!((stored.card.as_str(), stored.dirty), (second.card.as_str(), false));
    assert_eq!(stored.contact.first_name, "Augusta");

    let never = |_: Option<&StoredCard>| false;
    let third = card("a", "Ada King");
    assert_eq!(f.store.put_card(f.ada, DEFAULT_BOOK, "a.vcf", &third, &never).await.unwrap(), CardWrite::Refused);
    assert_eq!(f.store.card(f.ada, DEFAULT_BOOK, "a.vcf").await.unwrap().unwrap().card, second.card, "unchanged");
    assert_eq!(f.book(f.ada, DEFAULT_BOOK).await.sync_seq, 2, "a refused write logs nothing");

    assert_eq!(f.put(f.ada, "nope", "a.vcf", "x").await, CardWrite::Missing);
    assert_eq!(f.put(f.grace, DEFAULT_BOOK, "a.vcf", "a").await, CardWrite::Created, "grace's own book");
    assert_eq!(f.store.card(f.grace, DEFAULT_BOOK, "a.vcf").await.unwrap().unwrap().contact.first_name, "Ada");
}

#[tokio::test]
async fn a_uid_is_unique_per_book_only() {
    let f = fixture().await;
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "same").await;
    let clash = f.store.put_card(f.ada, DEFAULT_BOOK, "b.vcf", &card("same", "Other"), &always).await;
    assert!(matches!(clash, Err(Error::Conflict(contacts_domain::Conflict::CardUidTaken))), "{clash:?}");
    assert!(f.store.card(f.ada, DEFAULT_BOOK, "b.vcf").await.unwrap().is_none());
    let named = f.store.card_named_by_uid(f.ada, DEFAULT_BOOK, "same").await.unwrap();
    assert_eq!(named.as_deref(), Some("a.vcf"), "the card that has the UID");
    f.store.create_book(f.ada, "work", "", "", &[]).await.unwrap();
    assert_eq!(f.put(f.ada, "work", "a.vcf", "same").await, CardWrite::Created);
    assert_eq!(f.store.card_named_by_uid(f.ada, "work", "other").await.unwrap(), None);
    assert_eq!(f.store.card_named_by_uid(f.grace, DEFAULT_BOOK, "same").await.unwrap(), None, "ada's only");
}

#[tokio::test]
async fn a_card_keeps_its_uid_under_its_name() {
    let f = fixture().await;
    assert_eq!(f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await, CardWrite::Created);
    let before = f.store.card(f.ada, DEFAULT_BOOK, "a.vcf").await.unwrap().expect("the card");
    // Another UID under the same name: refused, nothing written or logged.
    assert_eq!(f.put(f.ada, DEFAULT_BOOK, "a.vcf", "b").await, CardWrite::UidChanged);
    assert_eq!(f.store.card(f.ada, DEFAULT_BOOK, "a.vcf").await.unwrap().as_ref(), Some(&before));
    assert_eq!(f.book(f.ada, DEFAULT_BOOK).await.sync_seq, 1, "a refused write logs nothing");
    // A card sent without a UID takes the stored one, text and row alike.
    let without = record("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ada King\r\nEND:VCARD\r\n").expect("a valid card");
    let written = f.store.put_card(f.ada, DEFAULT_BOOK, "a.vcf", &without, &always).await.unwrap();
    assert_eq!(written, CardWrite::Replaced);
    let after = f.store.card(f.ada, DEFAULT_BOOK, "a.vcf").await.unwrap().expect("the card");
    assert_eq!((after.contact.id, after.contact.uid.as_str()), (before.contact.id, "a"));
    assert!(after.card.contains("\r\nUID:a\r\n") && !after.card.contains(&without.uid), "{}", after.card);
    assert_eq!(f.store.card_named_by_uid(f.ada, DEFAULT_BOOK, "a").await.unwrap().as_deref(), Some("a.vcf"));
    // The table itself keeps it: no path can change a contact's UID.
    let change = execute_sql(&f.db, "UPDATE contacts SET uid = 'other' WHERE href = 'a.vcf'").await;
    assert_violates(change, DatabaseErrorKind::CheckViolation, "contacts_uid_fixed");
    let same = execute_sql(&f.db, "UPDATE contacts SET uid = uid, additional_info = 'x' WHERE href = 'a.vcf'").await;
    assert_eq!(same.unwrap(), 1, "writing the same UID is no change");
}

#[tokio::test]
async fn a_moved_card_is_the_same_row_under_its_new_name_and_its_old_one_a_tombstone() {
    let f = fixture().await;
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await;
    f.put(f.ada, DEFAULT_BOOK, "b.vcf", "b").await;
    let before = f.store.card(f.ada, DEFAULT_BOOK, "a.vcf").await.unwrap().expect("the card");
    let moved = |from, to, overwrite| f.store.move_card(f.ada, from, to, overwrite, &always);
    // A rename: one UPDATE, logged as the old name gone and the new one changed.
    assert_eq!(moved((DEFAULT_BOOK, "a.vcf"), (DEFAULT_BOOK, "ada.vcf"), true).await.unwrap(), CardWrite::Created);
    let after = f.store.card(f.ada, DEFAULT_BOOK, "ada.vcf").await.unwrap().expect("moved");
    assert_eq!((after.contact.id, after.card.as_str()), (before.contact.id, before.card.as_str()));
    assert!(f.store.card(f.ada, DEFAULT_BOOK, "a.vcf").await.unwrap().is_none());
    let log = f.log(f.ada, DEFAULT_BOOK, 2).await;
    assert_eq!(log, vec![("a.vcf".into(), 3, true), ("ada.vcf".into(), 4, false)]);
    // Never over a taken name without overwrite.
    assert_eq!(moved((DEFAULT_BOOK, "ada.vcf"), (DEFAULT_BOOK, "b.vcf"), false).await.unwrap(), CardWrite::Refused);
    assert_eq!(moved((DEFAULT_BOOK, "ada.vcf"), (DEFAULT_BOOK, "ada.vcf"), true).await.unwrap(), CardWrite::Refused);
    assert_eq!(moved((DEFAULT_BOOK, "gone.vcf"), (DEFAULT_BOOK, "x.vcf"), true).await.unwrap(), CardWrite::Missing);
    assert_eq!(moved((DEFAULT_BOOK, "ada.vcf"), ("nope", "x.vcf"), true).await.unwrap(), CardWrite::Missing);
    // Into another book: refused while that book has the UID on another card.
    f.store.create_book(f.ada, "work", "", "", &[]).await.unwrap();
    f.put(f.ada, "work", "other.vcf", "a").await;
    let taken = moved((DEFAULT_BOOK, "ada.vcf"), ("work", "ada.vcf"), true).await;
    assert!(matches!(taken, Err(Error::Conflict(contacts_domain::Conflict::CardUidTaken))), "{taken:?}");
    // Onto a card of the same UID it replaces that card.
    assert_eq!(moved((DEFAULT_BOOK, "ada.vcf"), ("work", "other.vcf"), true).await.unwrap(), CardWrite::Replaced);
    let replaced = f.store.card(f.ada, "work", "other.vcf").await.unwrap().expect("there");
    assert_eq!(replaced.contact.id, before.contact.id, "the moved row, not the replaced one");
    assert_eq!(f.store.card(f.grace, "work", "other.vcf").await.unwrap(), None, "ada's only");
    // Onto a card of another UID (overwriting, RFC 4918 9.9.3): that card is deleted first.
    let b = f.store.card(f.ada, DEFAULT_BOOK, "b.vcf").await.unwrap().expect("b");
    assert_eq!(moved(("work", "other.vcf"), (DEFAULT_BOOK, "b.vcf"), true).await.unwrap(), CardWrite::Replaced);
    let there = f.store.card(f.ada, DEFAULT_BOOK, "b.vcf").await.unwrap().expect("there");
    assert_eq!((there.contact.id, there.contact.uid.as_str()), (before.contact.id, "a"));
    assert_eq!(f.store.card_named_by_uid(f.ada, DEFAULT_BOOK, &b.contact.uid).await.unwrap(), None, "b is gone");
}

#[tokio::test]
async fn a_copy_over_a_card_of_another_uid_replaces_that_card_and_without_overwrite_is_refused() {
    let f = fixture().await;
    f.store.create_book(f.ada, "work", "", "", &[]).await.unwrap();
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await;
    f.put(f.ada, "work", "b.vcf", "b").await;
    let source = f.store.card(f.ada, DEFAULT_BOOK, "a.vcf").await.unwrap().expect("a");
    let text = record(&source.card).expect("a readable card");
    let only_new = |card: Option<&StoredCard>| card.is_none();
    let copy = |allow| f.store.copy_card(f.ada, (DEFAULT_BOOK, "a.vcf"), ("work", "b.vcf"), &text, allow);
    assert_eq!(copy(&only_new).await.unwrap(), CardWrite::Refused, "Overwrite: F");
    assert_eq!(f.store.card(f.ada, "work", "b.vcf").await.unwrap().expect("kept").contact.uid, "b");
    assert_eq!(copy(&always).await.unwrap(), CardWrite::Replaced);
    let there = f.store.card(f.ada, "work", "b.vcf").await.unwrap().expect("the copy");
    assert_eq!(there.contact.uid, "a");
    assert_ne!(there.contact.id, source.contact.id, "a copy is a contact of its own");
    assert_eq!(f.store.card_named_by_uid(f.ada, "work", "b").await.unwrap(), None, "the card that was there is gone");
}

#[tokio::test]
async fn two_creates_of_one_name_at_once_store_one_card() {
    let f = fixture().await;
    let only_new = |current: Option<&StoredCard>| current.is_none();
    let (ada, augusta) = (card("a", "Ada Lovelace"), card("b", "Augusta King"));
    let (first, second) = tokio::join!(
        f.store.put_card(f.ada, DEFAULT_BOOK, "x.vcf", &ada, &only_new),
        f.store.put_card(f.ada, DEFAULT_BOOK, "x.vcf", &augusta, &only_new),
    );
    let mut outcomes = [first.unwrap(), second.unwrap()];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [CardWrite::Created, CardWrite::Refused]);
    assert_eq!(f.log(f.ada, DEFAULT_BOOK, 0).await.len(), 1);
}

/// Writes of one new name at once without a precondition (a client retrying an upload): the
/// first creates, the others replace it, as they would one after another; none is refused as
/// a conflict with the very card it writes.
#[tokio::test]
async fn unconditional_writes_of_one_new_name_at_once_create_then_replace() {
    let f = fixture().await;
    let same = card("same", "Ada Lovelace");
    for round in 0..5 {
        let href = format!("x{round}.vcf");
        let writes = (0..10).map(|_| f.store.put_card(f.ada, DEFAULT_BOOK, &href, &same, &always));
        let mut outcomes: Vec<CardWrite> =
            futures_util::future::join_all(writes).await.into_iter().map(Result::unwrap).collect();
        outcomes.sort_by_key(|o| format!("{o:?}"));
        outcomes.dedup();
        assert_eq!(outcomes, [CardWrite::Created, CardWrite::Replaced], "round {round}");
        f.delete(f.ada, DEFAULT_BOOK, &href).await;
    }
}

/// A card whose book is deleted while it is written finds the book gone, as if it had been.
#[tokio::test]
async fn a_write_into_a_book_deleted_meanwhile_is_not_found() {
    let f = fixture().await;
    let orphan =
        execute_sql(&f.db, "INSERT INTO card_changes (book_id, href, seq, deleted) VALUES (-1, 'x', 1, false)");
    assert!(matches!(orphan.await.map_err(query_error), Err(Error::NotFound(_))));
}

#[tokio::test]
async fn cards_page_by_name_and_multiget_leaves_out_the_missing() {
    let f = fixture().await;
    let f = &f;
    for name in ["e", "a", "c", "b", "d"] {
        f.put(f.ada, DEFAULT_BOOK, &format!("{name}.vcf"), name).await;
    }
    let page = |after: Option<&'static str>| async move {
        f.store
            .cards(f.ada, DEFAULT_BOOK, after, 2)
            .await
            .unwrap()
            .expect("the book")
            .into_iter()
            .map(|c| c.href)
            .collect::<Vec<_>>()
    };
    assert_eq!(page(None).await, vec!["a.vcf", "b.vcf"]);
    assert_eq!(page(Some("b.vcf")).await, vec!["c.vcf", "d.vcf"]);
    assert_eq!(page(Some("d.vcf")).await, vec!["e.vcf"]);
    assert!(page(Some("e.vcf")).await.is_empty());
    assert!(f.store.cards(f.ada, "nope", None, 2).await.unwrap().is_none());
    assert!(f.store.cards(f.grace, DEFAULT_BOOK, None, 10).await.unwrap().unwrap().is_empty());

    let wanted = ["d.vcf", "missing.vcf", "a.vcf"].map(String::from);
    let got = f.store.cards_named(f.ada, DEFAULT_BOOK, &wanted).await.unwrap().expect("the book");
    let got: Vec<(String, String)> = got.into_iter().map(|c| (c.href, c.card.contact.uid)).collect();
    assert_eq!(got, vec![("a.vcf".into(), "a".into()), ("d.vcf".into(), "d".into())]);
    assert!(f.store.cards_named(f.grace, "work", &wanted).await.unwrap().is_none());
    assert!(f.store.card(f.grace, DEFAULT_BOOK, "a.vcf").await.unwrap().is_none(), "not grace's card");
}

#[tokio::test]
async fn delete_honours_the_precondition_and_leaves_a_tombstone() {
    let f = fixture().await;
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await;
    let never = |_: Option<&StoredCard>| false;
    assert_eq!(f.store.delete_card(f.ada, DEFAULT_BOOK, "a.vcf", &never).await.unwrap(), CardWrite::Refused);
    assert_eq!(f.delete(f.grace, DEFAULT_BOOK, "a.vcf").await, CardWrite::Missing, "not grace's card");
    assert_eq!(f.delete(f.ada, "nope", "a.vcf").await, CardWrite::Missing);
    assert_eq!(f.delete(f.ada, DEFAULT_BOOK, "a.vcf").await, CardWrite::Created);
    assert_eq!(f.delete(f.ada, DEFAULT_BOOK, "a.vcf").await, CardWrite::Missing, "already gone");
    assert!(f.store.card(f.ada, DEFAULT_BOOK, "a.vcf").await.unwrap().is_none());
    assert_eq!(f.log(f.ada, DEFAULT_BOOK, 0).await, vec![("a.vcf".into(), 2, true)]);
}

#[tokio::test]
async fn changes_list_each_cards_latest_state_in_order_up_to_the_limit() {
    let f = fixture().await;
    for name in ["a", "b", "c"] {
        f.put(f.ada, DEFAULT_BOOK, &format!("{name}.vcf"), name).await;
    }
    f.put(f.ada, DEFAULT_BOOK, "a.vcf", "a").await; // a moves to the end
    f.delete(f.ada, DEFAULT_BOOK, "b.vcf").await;
    assert_eq!(
        f.log(f.ada, DEFAULT_BOOK, 0).await,
        vec![("c.vcf".into(), 3, false), ("a.vcf".into(), 4, false), ("b.vcf".into(), 5, true)]
    );
    assert_eq!(f.log(f.ada, DEFAULT_BOOK, 3).await, vec![("a.vcf".into(), 4, false), ("b.vcf".into(), 5, true)]);
    assert!(f.log(f.ada, DEFAULT_BOOK, 5).await.is_empty());
    // A bound leaves the changes past it (b's deletion) for a later read.
    let (_, bounded) = f
        .store
        .changes(f.ada, DEFAULT_BOOK, LogRange { after: 0, until: Some(4), limit: None })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bounded.into_iter().map(|c| c.href).collect::<Vec<_>>(), ["c.vcf", "a.vcf"]);

    let (book, limited) = f
        .store
        .changes(f.ada, DEFAULT_BOOK, LogRange { after: 0, until: None, limit: Some(2) })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(book.sync_seq, 5);
    let limited: Vec<(String, Option<String>)> =
        limited.into_iter().map(|c| (c.href, c.card.map(|card| card.contact.uid))).collect();
    assert_eq!(limited, vec![("c.vcf".into(), Some("c".into())), ("a.vcf".into(), Some("a".into()))]);
    assert!(f.store.changes(f.grace, "nope", LogRange { after: 0, until: None, limit: None }).await.unwrap().is_none());
    assert!(
        f.store
            .changes(f.grace, DEFAULT_BOOK, LogRange { after: 0, until: None, limit: None })
            .await
            .unwrap()
            .unwrap()
            .1
            .is_empty()
    );
}
