use diesel::result::DatabaseErrorKind;

use contacts_domain::addressbook::{
    AddressBookStore, CardWrite, DEFAULT_BOOK, MAX_CLIENT_PROPERTIES, MAX_HELD_PROPERTY_BYTES,
};

use super::*;
use crate::test_fixtures::{TwoUsers, assert_violates, execute_sql, two_users};

async fn fixture() -> TwoUsers<PgAddressBooks> {
    two_users(PgAddressBooks::new).await
}

fn set(name: &str, value: &str) -> PropertyChange {
    PropertyChange { namespace: "urn:x".into(), name: name.into(), value: Some(value.into()) }
}

fn remove(name: &str) -> PropertyChange {
    PropertyChange { namespace: "urn:x".into(), name: name.into(), value: None }
}

/// Applies `changes` to what `holder` keeps, no label changing.
async fn change(
    f: &TwoUsers<PgAddressBooks>,
    owner: UserId,
    holder: PropertyHolder<'_>,
    changes: &[PropertyChange],
) -> PropertiesWrite {
    f.store.change_client_properties(owner, holder, BookLabels::NONE, changes).await.expect("change the properties")
}

/// (book, name, value) of every property the owner keeps, in the order they were set.
async fn kept(f: &TwoUsers<PgAddressBooks>, owner: UserId) -> Vec<(Option<String>, String, String)> {
    let held = f.store.client_properties(owner).await.expect("read the properties");
    held.into_iter().map(|h| (h.book, h.property.name, h.property.value)).collect()
}

#[tokio::test]
async fn properties_are_kept_per_book_and_home_replaced_and_removed() {
    let f = fixture().await;
    let home = change(&f, f.ada, PropertyHolder::Home, &[set("me", "<me/>")]).await;
    let book = change(&f, f.ada, PropertyHolder::Book(DEFAULT_BOOK), &[set("me", "<b/>"), set("c", "1")]).await;
    assert_eq!((home, book), (PropertiesWrite::Done, PropertiesWrite::Done));
    let book = Some(DEFAULT_BOOK.to_owned());
    assert_eq!(
        kept(&f, f.ada).await,
        vec![
            (None, "me".into(), "<me/>".into()),
            (book.clone(), "me".into(), "<b/>".into()),
            (book.clone(), "c".into(), "1".into())
        ]
    );
    assert!(kept(&f, f.grace).await.is_empty(), "another user keeps none of them");

    // In order: set twice keeps the last; a removal of one not there is fine.
    let changes = [set("c", "2"), set("c", "3"), remove("me"), remove("never")];
    assert_eq!(change(&f, f.ada, PropertyHolder::Book(DEFAULT_BOOK), &changes).await, PropertiesWrite::Done);
    assert_eq!(kept(&f, f.ada).await, vec![(None, "me".into(), "<me/>".into()), (book, "c".into(), "3".into())]);

    // Another user's book is a missing one.
    let missing = change(&f, f.grace, PropertyHolder::Book("nope"), &[set("c", "1")]).await;
    assert_eq!(missing, PropertiesWrite::Missing);
}

#[tokio::test]
async fn a_book_keeps_at_most_the_bound_and_a_change_past_it_changes_nothing() {
    let f = fixture().await;
    let full: Vec<_> = (0..MAX_CLIENT_PROPERTIES).map(|i| set(&format!("p{i}"), "v")).collect();
    assert_eq!(change(&f, f.ada, PropertyHolder::Home, &full).await, PropertiesWrite::Done);
    let past = [set("p0", "changed"), set("one-more", "v")];
    assert_eq!(change(&f, f.ada, PropertyHolder::Home, &past).await, PropertiesWrite::Full);
    let now = kept(&f, f.ada).await;
    assert_eq!(now.len() as i64, MAX_CLIENT_PROPERTIES);
    assert!(now.iter().all(|(_, _, value)| value == "v"), "nothing of the refused change stays");
    // So is the size of all values: the book takes values up to the bound in all, not past it.
    let value = "x".repeat(16_000);
    let book = PropertyHolder::Book(DEFAULT_BOOK);
    let heavy: Vec<_> = (1..=4).map(|i| set(&format!("h{i}"), &value)).collect();
    const { assert!(4 * 16_000 <= MAX_HELD_PROPERTY_BYTES && 4 * 16_000 + 2_000 > MAX_HELD_PROPERTY_BYTES) };
    assert_eq!(change(&f, f.ada, book, &heavy).await, PropertiesWrite::Done);
    let over = [set("h5", &"x".repeat(2_000))];
    assert_eq!(change(&f, f.ada, book, &over).await, PropertiesWrite::Full);
    let smaller = [set("h1", "x"), set("h5", &"x".repeat(2_000))];
    assert_eq!(change(&f, f.ada, book, &smaller).await, PropertiesWrite::Done);
    let cleared: Vec<_> = (1..=5).map(|i| remove(&format!("h{i}"))).collect();
    assert_eq!(change(&f, f.ada, book, &cleared).await, PropertiesWrite::Done);
    // The bound is per holder: the book still takes some, and a replacement keeps the count.
    assert_eq!(change(&f, f.ada, PropertyHolder::Book(DEFAULT_BOOK), &past).await, PropertiesWrite::Done);
    assert_eq!(change(&f, f.ada, PropertyHolder::Home, &[set("p0", "new")]).await, PropertiesWrite::Done);
}

#[tokio::test]
async fn the_table_keeps_one_value_a_name_books_of_the_same_user_and_follows_deletions() {
    let f = fixture().await;
    f.store.create_book(f.ada, "work", "Work", "", &[]).await.unwrap();
    change(&f, f.ada, PropertyHolder::Book("work"), &[set("c", "1")]).await;
    change(&f, f.ada, PropertyHolder::Home, &[set("c", "1")]).await;
    let work = f.store.book(f.ada, "work").await.unwrap().unwrap().id;
    let again = |book: &str| {
        format!(
            "INSERT INTO client_properties (user_id, book_id, namespace, name, value) VALUES ({}, {book}, 'urn:x', 'c', '2')",
            f.ada.0
        )
    };
    for book in [work.to_string(), "NULL".to_owned()] {
        assert_violates(
            execute_sql(&f.db, &again(&book)).await,
            DatabaseErrorKind::UniqueViolation,
            "client_properties_key",
        );
    }
    let foreign = format!(
        "INSERT INTO client_properties (user_id, book_id, namespace, name, value) VALUES ({}, {work}, 'urn:x', 'd', '')",
        f.grace.0
    );
    assert_violates(
        execute_sql(&f.db, &foreign).await,
        DatabaseErrorKind::ForeignKeyViolation,
        "client_properties_book_fkey",
    );
    let big = format!(
        "INSERT INTO client_properties (user_id, namespace, name, value) VALUES ({}, 'urn:x', 'big', repeat('x', 16385))",
        f.ada.0
    );
    assert_violates(execute_sql(&f.db, &big).await, DatabaseErrorKind::CheckViolation, "client_properties_value_check");

    assert!(f.store.delete_book(f.ada, "work").await.unwrap());
    assert_eq!(kept(&f, f.ada).await, vec![(None, "c".into(), "1".into())], "the book's went with it");
}

#[tokio::test]
async fn a_cards_properties_follow_it_when_it_moves_and_go_with_it() {
    let f = fixture().await;
    let text = "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:u1\r\nFN:Ada\r\nEND:VCARD\r\n";
    let card = contacts_domain::contact::vcard::record(text).expect("a valid card");
    let always = |_: Option<&contacts_domain::contact::StoredCard>| true;
    f.store.put_card(f.ada, DEFAULT_BOOK, "a.vcf", &card, &always).await.unwrap();
    f.store.create_book(f.ada, "work", "Work", "", &[]).await.unwrap();
    let on_card = PropertyHolder::Card { book: DEFAULT_BOOK, href: "a.vcf" };
    assert_eq!(change(&f, f.ada, on_card, &[set("c", "1")]).await, PropertiesWrite::Done);
    let missing = PropertyHolder::Card { book: DEFAULT_BOOK, href: "nope.vcf" };
    assert_eq!(change(&f, f.ada, missing, &[set("c", "1")]).await, PropertiesWrite::Missing);
    let theirs = change(&f, f.grace, on_card, &[set("c", "1")]).await;
    assert_eq!(theirs, PropertiesWrite::Missing, "another user's card is a missing one");

    let names = ["a.vcf".to_owned(), "other.vcf".to_owned()];
    let read = f.store.card_properties(f.ada, DEFAULT_BOOK, &names).await.unwrap();
    assert_eq!(read.iter().map(|(href, p)| (href.as_str(), p.value.as_str())).collect::<Vec<_>>(), [("a.vcf", "1")]);
    assert!(kept(&f, f.ada).await.is_empty(), "not a property of the home or a book");
    assert!(f.store.card_properties(f.grace, DEFAULT_BOOK, &names).await.unwrap().is_empty());

    let moved = f.store.move_card(f.ada, (DEFAULT_BOOK, "a.vcf"), ("work", "b.vcf"), false, &always).await.unwrap();
    assert_eq!(moved, CardWrite::Created);
    let read = f.store.card_properties(f.ada, "work", &["b.vcf".to_owned()]).await.unwrap();
    assert_eq!(read.len(), 1, "the property moved with the card");
    assert!(f.store.card_properties(f.ada, DEFAULT_BOOK, &names).await.unwrap().is_empty());

    // The table holds a property on one holder, of its own user.
    let contact = format!("(SELECT id FROM contacts WHERE href = 'b.vcf' AND user_id = {})", f.ada.0);
    let foreign = format!(
        "INSERT INTO client_properties (user_id, contact_id, namespace, name, value) VALUES ({}, {contact}, 'urn:x', 'd', '')",
        f.grace.0
    );
    assert_violates(
        execute_sql(&f.db, &foreign).await,
        DatabaseErrorKind::ForeignKeyViolation,
        "client_properties_contact_fkey",
    );
    let two = format!(
        "INSERT INTO client_properties (user_id, book_id, contact_id, namespace, name, value) \
         VALUES ({0}, (SELECT id FROM address_books WHERE user_id = {0} AND name = 'work'), {contact}, 'urn:x', 'd', '')",
        f.ada.0
    );
    assert_violates(execute_sql(&f.db, &two).await, DatabaseErrorKind::CheckViolation, "client_properties_one_holder");

    assert_eq!(f.store.delete_card(f.ada, "work", "b.vcf", &always).await.unwrap(), CardWrite::Created);
    let left = format!("DELETE FROM client_properties WHERE user_id = {}", f.ada.0);
    assert_eq!(execute_sql(&f.db, &left).await.unwrap(), 0, "the card's property went with it");
}

#[tokio::test]
async fn a_books_labels_change_with_its_properties_or_not_at_all() {
    let f = fixture().await;
    let book = PropertyHolder::Book(DEFAULT_BOOK);
    let labels = BookLabels { display_name: Some("Family"), description: None };
    let written = f.store.change_client_properties(f.ada, book, labels, &[set("color", "#fff")]).await.unwrap();
    assert_eq!(written, PropertiesWrite::Done);
    let labelled = f.store.book(f.ada, DEFAULT_BOOK).await.unwrap().unwrap();
    assert_eq!(labelled.display_name, "Family");
    assert_eq!(kept(&f, f.ada).await, vec![(Some(DEFAULT_BOOK.into()), "color".into(), "#fff".into())]);

    // A change past the bound leaves the labels of its request unwritten too.
    let past: Vec<_> = (0..=MAX_CLIENT_PROPERTIES).map(|i| set(&format!("p{i}"), "v")).collect();
    let relabel = BookLabels { display_name: Some("Office"), description: Some("Everyone") };
    assert_eq!(f.store.change_client_properties(f.ada, book, relabel, &past).await.unwrap(), PropertiesWrite::Full);
    let unchanged = f.store.book(f.ada, DEFAULT_BOOK).await.unwrap().unwrap();
    assert_eq!((unchanged.display_name.as_str(), unchanged.description.as_str()), ("Family", ""));

    // Only a book has labels: asking for them elsewhere is a caller's bug, and changes nothing.
    let home = f.store.change_client_properties(f.ada, PropertyHolder::Home, relabel, &[set("me", "<me/>")]).await;
    assert!(matches!(home, Err(Error::Unexpected(_))), "{home:?}");
    assert_eq!(kept(&f, f.ada).await.len(), 1);
}

#[tokio::test]
async fn a_new_book_is_made_with_its_properties_in_one_go() {
    let f = fixture().await;
    let made = f.store.create_book(f.ada, "work", "Work", "", &[set("color", "#000"), set("color", "#111")]).await;
    assert!(made.unwrap());
    assert_eq!(kept(&f, f.ada).await, vec![(Some("work".into()), "color".into(), "#111".into())], "the last value");
    // A name taken stores none of what came with it.
    let again = f.store.create_book(f.ada, "work", "Again", "", &[set("order", "1")]).await;
    assert!(!again.unwrap());
    assert_eq!(kept(&f, f.ada).await.len(), 1);
    assert_eq!(f.store.book(f.ada, "work").await.unwrap().unwrap().display_name, "Work");
}

#[tokio::test]
async fn a_copy_takes_the_sources_properties_in_place_of_the_overwritten_cards() {
    let f = fixture().await;
    let always = |_: Option<&contacts_domain::contact::StoredCard>| true;
    let never = |_: Option<&contacts_domain::contact::StoredCard>| false;
    let card = |uid: &str| {
        let text = format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Ada\r\nEND:VCARD\r\n");
        contacts_domain::contact::vcard::record(&text).expect("a valid card")
    };
    f.store.create_book(f.ada, "work", "Work", "", &[]).await.unwrap();
    f.store.put_card(f.ada, DEFAULT_BOOK, "a.vcf", &card("u1"), &always).await.unwrap();
    f.store.put_card(f.ada, "work", "old.vcf", &card("u1"), &always).await.unwrap();
    let source = PropertyHolder::Card { book: DEFAULT_BOOK, href: "a.vcf" };
    change(&f, f.ada, source, &[set("c", "1"), set("d", "2")]).await;
    change(&f, f.ada, PropertyHolder::Card { book: "work", href: "old.vcf" }, &[set("stale", "x")]).await;
    let on = async |book: &str, href: &str| {
        let read = f.store.card_properties(f.ada, book, &[href.to_owned()]).await.unwrap();
        read.into_iter().map(|(_, p)| (p.name, p.value)).collect::<Vec<_>>()
    };

    // A copy to a new name: the card and the source's properties, in their order.
    let copied = f.store.copy_card(f.ada, (DEFAULT_BOOK, "a.vcf"), ("work", "new.vcf"), &card("u2"), &always).await;
    assert_eq!(copied.unwrap(), CardWrite::Created);
    assert_eq!(on("work", "new.vcf").await, [("c".to_owned(), "1".to_owned()), ("d".to_owned(), "2".to_owned())]);
    // Over a card of the same UID: its own properties go, the source's come.
    let over = f.store.copy_card(f.ada, (DEFAULT_BOOK, "a.vcf"), ("work", "old.vcf"), &card("u1"), &always).await;
    assert_eq!(over.unwrap(), CardWrite::Replaced);
    assert_eq!(on("work", "old.vcf").await.len(), 2);
    assert!(!on("work", "old.vcf").await.iter().any(|(name, _)| name == "stale"));
    assert_eq!(on(DEFAULT_BOOK, "a.vcf").await.len(), 2, "the source keeps its own");

    // A refused copy changes nothing, properties included; so does another user's.
    change(&f, f.ada, PropertyHolder::Card { book: "work", href: "old.vcf" }, &[set("stale", "x")]).await;
    let refused = f.store.copy_card(f.ada, (DEFAULT_BOOK, "a.vcf"), ("work", "old.vcf"), &card("u1"), &never).await;
    assert_eq!(refused.unwrap(), CardWrite::Refused);
    assert_eq!(on("work", "old.vcf").await.len(), 3);
    let theirs = f.store.copy_card(f.grace, (DEFAULT_BOOK, "a.vcf"), ("work", "x.vcf"), &card("u3"), &always).await;
    assert_eq!(theirs.unwrap(), CardWrite::Missing);
    let empty =
        f.store.copy_card(f.grace, (DEFAULT_BOOK, "a.vcf"), (DEFAULT_BOOK, "x.vcf"), &card("u3"), &always).await;
    assert_eq!(empty.unwrap(), CardWrite::Created, "another user's card is a source without properties");
    let read = f.store.card_properties(f.grace, DEFAULT_BOOK, &["x.vcf".to_owned()]).await.unwrap();
    assert!(read.is_empty(), "none of another user's properties is copied");
}
