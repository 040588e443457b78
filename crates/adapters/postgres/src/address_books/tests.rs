use chrono::Duration;

use contacts_domain::addressbook::TOMBSTONE_RETENTION;
use contacts_domain::contact::vcard::record;
use contacts_test_support::TestDatabase;

use super::*;
use crate::test_fixtures::{create_user, execute_sql, migrated_db};

/// A fresh database with the books store and two users (each with the default book).
struct Fixture {
    _test_db: TestDatabase,
    db: Database,
    store: PgAddressBooks,
    ada: UserId,
    grace: UserId,
}

async fn fixture() -> Fixture {
    let (test_db, db) = migrated_db().await;
    let ada = create_user(&db, "ada").await;
    let grace = create_user(&db, "grace").await;
    Fixture { store: PgAddressBooks::new(db.clone()), _test_db: test_db, db, ada, grace }
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
        let (_, changes) = self.store.changes(owner, name, since, None).await.expect("read changes").expect("a book");
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
    assert!(f.store.create_book(f.ada, "work", "Work").await.unwrap());
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
