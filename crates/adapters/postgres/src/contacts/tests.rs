use std::time::Duration;

use diesel::result::DatabaseErrorKind;

use contacts_test_support::TestDatabase;

use super::search::substring_pattern;
use super::*;
use crate::test_fixtures::{
    assert_violates, birthday, create_user, email, execute_sql, expect_conflict, info, migrated_db, new_contact,
    person_name, phone,
};

/// A migrated database with one user, the owner of the contacts under test (also the starting
/// point of the plan and deep-page tests, which fill it with SQL).
pub(super) struct Book {
    _test_db: TestDatabase,
    /// A pool on the database, for raw SQL.
    pub(super) db: Database,
    /// The repository under test.
    pub(super) repo: PgContactRepository,
    /// The owner of the book.
    pub(super) owner: UserId,
}

pub(super) async fn book() -> Book {
    let (test_db, db) = migrated_db().await;
    let owner = create_user(&db, "owner").await;
    Book { _test_db: test_db, repo: PgContactRepository::new(db.clone()), db, owner }
}

impl Book {
    /// Stores `contact` for the owner.
    async fn add(&self, contact: NewContact) -> Contact {
        self.repo.create(self.owner, contact).await.expect("create a contact")
    }

    /// Stores a contact with these names and email for the owner.
    async fn add_named(&self, first_name: &str, last_name: &str, email_address: &str) -> Contact {
        self.add(new_contact(first_name, last_name, email_address)).await
    }

    /// Another account, for cross-owner checks.
    async fn other_owner(&self) -> UserId {
        create_user(&self.db, "intruder").await
    }

    async fn list(&self, filter: &ContactFilter, skip: i64, limit: i64) -> (Vec<Contact>, i64) {
        self.repo.list(self.owner, filter, Page { skip, limit }).await.expect("list contacts")
    }

    /// The first names of every match, in order; checks that the total agrees.
    async fn first_names(&self, filter: ContactFilter) -> Vec<String> {
        let (contacts, total) = self.list(&filter, 0, 1000).await;
        assert_eq!(total, contacts.len() as i64, "total of {filter:?}");
        contacts.into_iter().map(|c| c.first_name).collect()
    }

    /// The ids of the owner's contacts celebrating on `days`, sorted.
    async fn birthdays_on(&self, days: &[(u32, u32)]) -> Vec<ContactId> {
        let days: Vec<MonthDay> = days.iter().map(|&(month, day)| MonthDay { month, day }).collect();
        let mut ids: Vec<ContactId> = self
            .repo
            .with_birthday_on(self.owner, &days, None, None)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        ids
    }
}

fn first_names(contacts: &[Contact]) -> Vec<&str> {
    contacts.iter().map(|c| c.first_name.as_str()).collect()
}

/// Lets the clock move past the previous write's microsecond.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[test]
fn substring_patterns_escape_like_wildcards() {
    assert_eq!(substring_pattern("ada"), "%ada%");
    assert_eq!(substring_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    assert_eq!(substring_pattern(""), "%%");
}

#[tokio::test]
async fn create_returns_the_contact_exactly_as_get_reads_it() {
    let book = book().await;
    let input = NewContact {
        additional_info: Some(info("Met at the Analytical Engine demo")),
        birthday: birthday("1915-12-10"),
        ..new_contact("  Ada ", "Lovelace\t", "Ada.Lovelace@Example.com")
    };

    let created = book.add(input).await;

    assert!(created.id.0 > 0);
    assert_eq!(
        (created.first_name.as_str(), created.last_name.as_str(), created.email.as_deref(), created.phone.as_deref()),
        ("Ada", "Lovelace", Some("Ada.Lovelace@Example.com"), Some("+1 (555) 010-0100")),
    );
    assert_eq!(created.birthday, NaiveDate::from_ymd_opt(1915, 12, 10));
    assert_eq!(created.birthday_md, Some(MonthDay { month: 12, day: 10 }));
    assert_eq!(created.emails, vec![typed("Ada.Lovelace@Example.com")]);
    assert_eq!(created.phones, vec![typed("+1 (555) 010-0100")]);
    assert_eq!(created.uid.len(), 36);
    assert_eq!(created.additional_info.as_deref(), Some("Met at the Analytical Engine demo"));
    assert_eq!(created.created_at, created.updated_at);
    assert!((Utc::now() - created.created_at).abs() < chrono::Duration::minutes(1));
    assert_eq!(created.created_at.timestamp_subsec_nanos() % 1000, 0, "microsecond precision");
    assert_eq!(book.repo.get(book.owner, created.id).await.unwrap(), Some(created.clone()), "timestamps included");

    let without_notes = book.add_named("Grace", "Hopper", "grace@navy.mil").await;
    assert_eq!(without_notes.additional_info, None);
    assert!(without_notes.id > created.id);
    assert_eq!(book.repo.get(book.owner, without_notes.id).await.unwrap(), Some(without_notes));
}

#[tokio::test]
async fn a_second_contact_with_the_same_email_in_another_case_is_a_conflict() {
    let book = book().await;
    let ada = book.add_named("Ada", "Lovelace", "ada@example.com").await;

    let conflict = expect_conflict(book.repo.create(book.owner, new_contact("Other", "Ada", "ADA@Example.COM")).await);

    assert_eq!(conflict, contacts_domain::Conflict::ContactEmailTaken);
    assert_eq!(book.list(&ContactFilter::default(), 0, 100).await, (vec![ada], 1), "nothing stored");
}

#[tokio::test]
async fn another_owner_may_use_the_same_email() {
    let book = book().await;
    let mine = book.add_named("Ada", "Lovelace", "ada@example.com").await;
    let other = book.other_owner().await;

    let theirs = book.repo.create(other, new_contact("Ada", "Clone", "ADA@example.com")).await.unwrap();

    assert_ne!(theirs.id, mine.id);
    assert_eq!(book.repo.get(other, theirs.id).await.unwrap(), Some(theirs));
    assert_eq!(book.repo.get(book.owner, mine.id).await.unwrap(), Some(mine));
}

#[tokio::test]
async fn another_owners_contact_is_invisible_and_untouchable() {
    let book = book().await;
    let ada = book.add_named("Ada", "Lovelace", "ada@example.com").await;
    let intruder = book.other_owner().await;
    let patch = ContactPatch { first_name: Some(person_name("Hacked")), ..Default::default() };

    assert_eq!(book.repo.get(intruder, ada.id).await.unwrap(), None);
    assert_eq!(book.repo.replace(intruder, ada.id, new_contact("Hacked", "X", "x@example.com")).await.unwrap(), None);
    assert_eq!(book.repo.update(intruder, ada.id, patch).await.unwrap(), None);
    assert!(!book.repo.delete(intruder, ada.id).await.unwrap());
    assert_eq!(
        book.repo.list(intruder, &ContactFilter::default(), Page { skip: 0, limit: 100 }).await.unwrap(),
        (vec![], 0)
    );
    let all_days: Vec<MonthDay> = vec![MonthDay::of(ada.birthday.unwrap())];
    assert!(book.repo.with_birthday_on(intruder, &all_days, None, None).await.unwrap().is_empty());
    assert_eq!(
        book.repo.birthdays_up_to(intruder, &all_days, 0, None).await.unwrap(),
        BirthdayProbe::All { contacts: vec![], stamp: None }
    );

    assert_eq!(book.repo.get(book.owner, ada.id).await.unwrap(), Some(ada), "left unchanged");
}

#[tokio::test]
async fn missing_contacts_are_none_and_delete_removes_only_its_target() {
    let book = book().await;
    let ada = book.add_named("Ada", "Lovelace", "ada@example.com").await;
    let grace = book.add_named("Grace", "Hopper", "grace@navy.mil").await;
    let missing = ContactId(grace.id.0 + 100);

    assert_eq!(book.repo.get(book.owner, missing).await.unwrap(), None);
    assert_eq!(book.repo.replace(book.owner, missing, new_contact("A", "B", "a@b.io")).await.unwrap(), None);
    let patch = ContactPatch { phone: Some(phone("5550100")), ..Default::default() };
    assert_eq!(book.repo.update(book.owner, missing, patch).await.unwrap(), None);
    assert!(!book.repo.delete(book.owner, missing).await.unwrap());

    assert!(book.repo.delete(book.owner, ada.id).await.unwrap());
    assert_eq!(book.repo.get(book.owner, ada.id).await.unwrap(), None);
    assert!(!book.repo.delete(book.owner, ada.id).await.unwrap(), "already gone");
    assert_eq!(book.list(&ContactFilter::default(), 0, 100).await, (vec![grace], 1));
}

#[tokio::test]
async fn list_is_ordered_by_id_and_paged_with_the_total_before_paging() {
    let book = book().await;
    let mut all = Vec::new();
    for (i, name) in ["Zed", "Amy", "Kim", "Bea", "Tom"].into_iter().enumerate() {
        let parity = if i % 2 == 0 { "odd" } else { "even" };
        all.push(book.add_named(name, "Doe", &format!("{}@{parity}.example.com", name.to_lowercase())).await);
    }
    book.repo.create(book.other_owner().await, new_contact("Eve", "Doe", "eve@odd.example.com")).await.unwrap();
    let everything = ContactFilter::default();

    let (page, total) = book.list(&everything, 0, 100).await;
    assert_eq!(first_names(&page), ["Zed", "Amy", "Kim", "Bea", "Tom"], "by id, not by name");
    assert_eq!(page, all, "rows as created");
    assert_eq!(total, 5);

    for (skip, limit, expected) in
        [(0, 2, &all[0..2]), (1, 2, &all[1..3]), (3, 1, &all[3..4]), (4, 2, &all[4..5]), (0, 1000, &all[..])]
    {
        assert_eq!(book.list(&everything, skip, limit).await, (expected.to_vec(), 5), "skip {skip} limit {limit}");
    }

    let odd = ContactFilter { email: Some("@ODD.".into()), ..Default::default() };
    assert_eq!(book.list(&odd, 0, 100).await, (vec![all[0].clone(), all[2].clone(), all[4].clone()], 3));
    assert_eq!(book.list(&odd, 1, 1).await, (vec![all[2].clone()], 3));
    assert_eq!(book.list(&odd, 2, 5).await, (vec![all[4].clone()], 3));
}

#[tokio::test]
async fn a_page_past_the_end_is_empty_but_keeps_the_total() {
    let book = book().await;
    for name in ["Ada", "Alan", "Grace"] {
        book.add_named(name, "Doe", &format!("{}@example.com", name.to_lowercase())).await;
    }
    let everything = ContactFilter::default();
    let with_a = ContactFilter { first_name: Some("a".into()), ..Default::default() };
    let nobody = ContactFilter { first_name: Some("nobody".into()), ..Default::default() };

    assert_eq!(book.list(&everything, 3, 10).await, (vec![], 3));
    assert_eq!(book.list(&everything, 1000, 1).await, (vec![], 3));
    assert_eq!(book.list(&with_a, 3, 10).await, (vec![], 3), "Ada, Alan, Grace all contain an a");
    assert_eq!(book.list(&nobody, 0, 10).await, (vec![], 0));
    assert_eq!(book.list(&nobody, 5, 10).await, (vec![], 0));
}

#[tokio::test]
async fn a_book_without_contacts_lists_nothing() {
    let book = book().await;
    book.repo.create(book.other_owner().await, new_contact("Eve", "Doe", "eve@example.com")).await.unwrap();

    assert_eq!(book.list(&ContactFilter::default(), 0, 100).await, (vec![], 0));
    assert_eq!(book.list(&ContactFilter::default(), 10, 100).await, (vec![], 0));
}

/// The owner's address book for the search tests, plus a look-alike of another owner.
async fn searchable_book() -> Book {
    let book = book().await;
    for (first, last, email_address) in [
        ("Ada", "Lovelace", "ada@math.org"),
        ("Alan", "Turing", "alan.turing@cs.org"),
        ("Grace", "Hopper", "grace@navy.mil"),
        ("Bob", "Adams", "bob@example.com"),
        ("Sale", "50% off", "sale_desk@shop.com"),
        ("Back\\slash", "Escape", "esc@ape.io"),
    ] {
        book.add_named(first, last, email_address).await;
    }
    book.repo.create(book.other_owner().await, new_contact("Ada", "Clone", "ada@clone.org")).await.unwrap();
    book
}

fn by(first_name: Option<&str>, last_name: Option<&str>, email_part: Option<&str>, q: Option<&str>) -> ContactFilter {
    ContactFilter {
        first_name: first_name.map(Into::into),
        last_name: last_name.map(Into::into),
        email: email_part.map(Into::into),
        q: q.map(Into::into),
    }
}

#[tokio::test]
async fn field_filters_are_case_insensitive_substrings_combined_with_and() {
    let book = searchable_book().await;

    let cases: [(ContactFilter, &[&str]); 8] = [
        (by(None, None, None, None), &["Ada", "Alan", "Grace", "Bob", "Sale", "Back\\slash"]),
        (by(Some("ADA"), None, None, None), &["Ada"]),
        (by(Some("rAC"), None, None, None), &["Grace"]),
        (by(None, Some("ada"), None, None), &["Bob"]),
        (by(None, None, Some("ORG"), None), &["Ada", "Alan"]),
        (by(Some("a"), Some("O"), None, None), &["Ada", "Grace", "Sale"]),
        (by(Some("a"), Some("o"), Some("NAVY"), None), &["Grace"]),
        (by(Some("ada"), Some("adams"), None, None), &[]),
    ];
    for (filter, expected) in cases {
        assert_eq!(book.first_names(filter.clone()).await, expected, "{filter:?}");
    }
}

#[tokio::test]
async fn q_matches_any_of_the_three_fields_and_is_anded_with_the_rest() {
    let book = searchable_book().await;

    let cases: [(ContactFilter, &[&str]); 7] = [
        (by(None, None, None, Some("ADA")), &["Ada", "Bob"]),
        (by(None, None, None, Some("turing")), &["Alan"]),
        (by(None, None, None, Some(".org")), &["Ada", "Alan"]),
        (by(None, None, None, Some("hop")), &["Grace", "Sale"]),
        (by(Some("bob"), None, None, Some("ada")), &["Bob"]),
        (by(None, None, Some("example"), Some("ada")), &["Bob"]),
        (by(None, Some("lovelace"), None, Some("turing")), &[]),
    ];
    for (filter, expected) in cases {
        assert_eq!(book.first_names(filter.clone()).await, expected, "{filter:?}");
    }
}

#[tokio::test]
async fn percent_underscore_and_backslash_in_filters_are_plain_characters() {
    let book = searchable_book().await;

    let cases: [(ContactFilter, &[&str]); 10] = [
        (by(Some("%"), None, None, None), &[]),
        (by(None, Some("%"), None, None), &["Sale"]),
        (by(None, Some("0% O"), None, None), &["Sale"]),
        (by(None, None, None, Some("%")), &["Sale"]),
        (by(None, None, Some("_"), None), &["Sale"]),
        (by(None, None, None, Some("_")), &["Sale"]),
        (by(Some("a_a"), None, None, None), &[]),
        (by(Some("\\"), None, None, None), &["Back\\slash"]),
        (by(Some("\\s"), None, None, None), &["Back\\slash"]),
        (by(None, None, None, Some("k\\S")), &["Back\\slash"]),
    ];
    for (filter, expected) in cases {
        assert_eq!(book.first_names(filter.clone()).await, expected, "{filter:?}");
    }
}

/// Contacts whose `contact_search` row is missing, left over, or not their fields lowered.
async fn search_rows_out_of_step(db: &Database) -> i64 {
    let mut conn = db.conn().await.unwrap();
    diesel::select(diesel::dsl::sql::<BigInt>(
        "(SELECT count(*) FROM contacts c FULL JOIN contact_search s ON s.contact_id = c.id \
          WHERE (s.user_id, s.first_name, s.last_name, s.email) IS DISTINCT FROM \
                (c.user_id, lower(c.first_name), lower(c.last_name), lower(c.email)))",
    ))
    .get_result(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn search_follows_every_write_whichever_way_it_comes() {
    use contacts_domain::contact::vcard::record;
    let book = book().await;
    let find = |needle: &'static str| book.first_names(by(None, None, None, Some(needle)));
    let ada = book.add_named("Ada", "Lovelace", "ada@example.com").await;
    let grace = book.add_named("Grace", "Hopper", "grace@example.com").await;
    assert_eq!(find("LOVE").await, ["Ada"]);

    let king = new_contact("Augusta", "King", "augusta@example.com");
    book.repo.replace(book.owner, ada.id, king).await.unwrap().expect("replaced");
    assert_eq!((find("love").await, find("KING").await), (vec![], vec!["Augusta".to_owned()]));
    let patch = ContactPatch { email: Some(email("amazing@navy.mil")), ..Default::default() };
    book.repo.update(book.owner, grace.id, patch).await.unwrap().expect("updated");
    assert_eq!((find("grace@").await, find("NAVY").await), (vec![], vec!["Grace".to_owned()]));

    // An import inserts, then upserts the same UID with another name.
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Charles Babbage\r\nUID:cb\r\nEND:VCARD\r\n";
    book.repo.import(book.owner, &[record(card).unwrap()]).await.unwrap();
    assert_eq!(find("babbage").await, ["Charles"]);
    book.repo.import(book.owner, &[record(&card.replace("Babbage", "Engine")).unwrap()]).await.unwrap();
    assert_eq!((find("babbage").await, find("engine").await), (vec![], vec!["Charles".to_owned()]));

    // A needle across two fields is no match, although the index holds them joined.
    assert_eq!(find("augusta\u{1f}king").await, Vec::<String>::new());
    assert_eq!(find("king\u{1f}").await, Vec::<String>::new());

    assert!(book.repo.delete(book.owner, grace.id).await.unwrap());
    assert_eq!(find("navy").await, Vec::<String>::new());
    assert_eq!(search_rows_out_of_step(&book.db).await, 0);
    execute_sql(&book.db, &format!("DELETE FROM users WHERE id = {}", book.owner.0)).await.unwrap();
    assert_eq!(search_rows_out_of_step(&book.db).await, 0, "an account's contacts take their search rows along");
}

/// The first names and total of the owner's `q` search on page (`skip`, `limit`), as `repo` (one
/// instance) answers it.
async fn search_page(
    repo: &PgContactRepository,
    owner: UserId,
    needle: &str,
    skip: i64,
    limit: i64,
) -> (Vec<String>, i64) {
    let (contacts, total) =
        repo.list(owner, &by(None, None, None, Some(needle)), Page { skip, limit }).await.expect("search");
    (contacts.into_iter().map(|c| c.first_name).collect(), total)
}

fn names(names: &[&str], total: i64) -> (Vec<String>, i64) {
    (names.iter().map(|n| n.to_string()).collect(), total)
}

#[tokio::test]
async fn a_search_asked_again_reads_its_kept_matches_only_while_the_owners_stamp_holds() {
    let book = searchable_book().await;
    let search = |skip, limit| search_page(&book.repo, book.owner, "e", skip, limit);
    assert_eq!(search(0, 2).await, names(&["Ada", "Grace"], 5));

    // Behind the stamp's back (no write of the server's does this), the search table loses a
    // match: the kept ids still answer, so the next pages come from them, by key.
    let hide_grace =
        "UPDATE contact_search SET first_name = 'x', last_name = 'x', email = 'x' WHERE first_name = 'grace'";
    execute_sql(&book.db, hide_grace).await.unwrap();
    assert_eq!(search(0, 2).await, names(&["Ada", "Grace"], 5), "the kept matches");
    assert_eq!(search(2, 2).await, names(&["Bob", "Sale"], 5), "a later page of them");
    // A page past the kept matches is the full statement's, which sees the table as it is.
    assert_eq!(search(5, 2).await, names(&[], 4));

    // A change to a field nobody searches leaves the stamp alone ...
    execute_sql(&book.db, "UPDATE contacts SET phone = '+1 555 0199' WHERE first_name = 'Ada'").await.unwrap();
    assert_eq!(search(0, 2).await, names(&["Ada", "Grace"], 5), "still the kept matches");
    // ... and one to a searchable field moves it: the next request reads every match again.
    execute_sql(&book.db, "UPDATE contacts SET last_name = 'Byron' WHERE first_name = 'Ada'").await.unwrap();
    assert_eq!(search(0, 2).await, names(&["Bob", "Sale"], 3), "read again");
}

#[tokio::test]
async fn every_change_to_the_matches_is_seen_by_the_next_search_on_every_instance() {
    use contacts_domain::contact::vcard::record;
    let book = searchable_book().await;
    // Two instances of the service on one database: `here` keeps the search, `there` writes.
    let (here, there) = (&book.repo, PgContactRepository::new(book.db.clone()));
    let search = |skip| search_page(here, book.owner, "ada", skip, 1);
    assert_eq!(search(0).await, names(&["Ada"], 2));
    assert_eq!(search(1).await, names(&["Bob"], 2));

    // An insert elsewhere.
    let hadar = there.create(book.owner, new_contact("Hadar", "Star", "h@sky.org")).await.unwrap();
    assert_eq!(search(2).await, names(&["Hadar"], 3));
    // A rename: out of the matches, then back in.
    let rename = |first: &str| ContactPatch { first_name: Some(person_name(first)), ..Default::default() };
    there.update(book.owner, hadar.id, rename("Vega")).await.unwrap().expect("renamed");
    assert_eq!((search(1).await, search(2).await), (names(&["Bob"], 2), names(&[], 2)));
    there.update(book.owner, hadar.id, rename("Adara")).await.unwrap().expect("renamed");
    assert_eq!(search(2).await, names(&["Adara"], 3));
    // A card imported in its place (same UID, another name), then a new one.
    let card = format!("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Mira Ceti\r\nUID:{}\r\nEND:VCARD\r\n", hadar.uid);
    there.import(book.owner, &[record(&card).unwrap()]).await.unwrap();
    assert_eq!(search(2).await, names(&[], 2));
    let shada = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Shada Nova\r\nEND:VCARD\r\n";
    there.import(book.owner, &[record(shada).unwrap()]).await.unwrap();
    assert_eq!(search(2).await, names(&["Shada"], 3));
    // Deletes, one through the other instance, one in SQL.
    let (bob, _) =
        there.list(book.owner, &by(Some("bob"), None, None, None), Page { skip: 0, limit: 1 }).await.unwrap();
    assert!(there.delete(book.owner, bob[0].id).await.unwrap());
    assert_eq!(search(1).await, names(&["Shada"], 2));
    execute_sql(&book.db, "DELETE FROM contacts WHERE first_name = 'Ada'").await.unwrap();
    assert_eq!(search(0).await, names(&["Shada"], 1));
}

/// Fills the owner's book with `size` contacts of a few names (some of them in several
/// contacts' fields, some with `%`, `_`, a backslash or a letter beyond ASCII, a third without
/// an email).
async fn fill_with_names(book: &Book, size: i64) {
    let sql = format!(
        "INSERT INTO contacts (user_id, book_id, uid, href, card, first_name, last_name, email) \
         SELECT {u}, b.id, 'u' || g, 'u' || g || '.vcf', 'BEGIN:VCARD', \
         (ARRAY['Ann', 'Annabel', 'Bob', 'Zoë', 'Sale_50%'])[1 + g % 5] || CASE WHEN g % 7 = 0 THEN 'Lee' ELSE '' END, \
         (ARRAY['Lee', 'JOHNSON', 'Annan', 'Back\\slash'])[1 + g % 4], \
         CASE WHEN g % 3 = 0 THEN NULL ELSE 'p' || g || '@' || (ARRAY['ann.org', 'bob.com'])[1 + g % 2] END \
         FROM address_books b, generate_series(1, {size}) g WHERE b.user_id = {u}",
        u = book.owner.0
    );
    execute_sql(&book.db, &sql).await.expect("fill the book");
}

/// Waits until `repo` keeps a copy of the owner's book (made in the background).
async fn copied(repo: &PgContactRepository, owner: UserId) {
    for _ in 0..200 {
        if repo.texts.get(owner.0).is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the book was not copied within 5 s");
}

#[tokio::test]
async fn a_big_books_new_searches_match_in_its_copy_what_the_statement_matches() {
    let book = book().await;
    fill_with_names(&book, search_texts::MIN_CONTACTS + 200).await;
    let (here, owner) = (&book.repo, book.owner);
    let q = |needle: &str| by(None, None, None, Some(needle));
    let list = |repo: &PgContactRepository, filter: ContactFilter, skip, limit| {
        let repo = repo.clone();
        async move { repo.list(owner, &filter, Page { skip, limit }).await.expect("list") }
    };
    // Two new searches at one stamp: the book is being searched, and is copied.
    list(here, q("lee"), 0, 20).await;
    assert!(here.texts.get(book.owner.0).is_none(), "one search copies nothing");
    list(here, q("johnson"), 0, 20).await;
    copied(here, book.owner).await;
    // Kept indexed: the filters below of three bytes or more are answered through the index.
    assert!(here.texts.get(book.owner.0).is_some_and(|copy| copy.is_indexed()), "indexed");

    let filters = [
        q("ANN"),
        q("ann.o"),
        q("nN"),
        q("50%"),
        q("_5"),
        q("k\\S"),
        q("ee"),
        q("zzz"),
        q("Zoë"),
        by(Some("ANN"), None, None, None),
        by(None, Some("ann"), None, None),
        by(None, None, Some("ANN"), None),
        by(None, None, Some("b"), None),
        by(Some("ann"), Some("son"), None, None),
        by(None, Some("lee"), Some("bob"), Some("ann")),
    ];
    for filter in filters {
        for (skip, limit) in [(0, 20), (100, 50), (0, 1000), (5_000, 20)] {
            // Another instance, with nothing kept: the full statement's answer.
            let expected = list(&PgContactRepository::new(book.db.clone()), filter.clone(), skip, limit).await;
            assert_eq!(list(here, filter.clone(), skip, limit).await, expected, "{filter:?} at {skip}, {limit}");
        }
    }
    assert!(here.texts.get(book.owner.0).is_some(), "the copy answered throughout");

    // Behind the stamp's back (no write of the server's does this), a search row changes: the
    // copy still answers with what it holds, which shows it is the one answering.
    execute_sql(&book.db, "UPDATE contact_search SET last_name = 'zyzzyva' WHERE contact_id = (SELECT min(contact_id) FROM contact_search)")
        .await
        .unwrap();
    assert_eq!(list(here, q("ZYZZYVA"), 0, 20).await, (vec![], 0), "the copy's answer");
    assert_eq!(list(&PgContactRepository::new(book.db.clone()), q("zyzzyva"), 0, 20).await.1, 1);

    // A change through another instance moves the stamp: the next search reads PostgreSQL, even
    // one whose page is empty in the copy.
    let there = PgContactRepository::new(book.db.clone());
    there.create(book.owner, new_contact("Quentin", "Zyzzyva", "q@z.org")).await.unwrap();
    let (found, total) = list(here, q("zyzzyvA"), 0, 20).await;
    assert_eq!((first_names(&found), total), (vec!["Annabel", "Quentin"], 2));
    assert!(here.texts.get(book.owner.0).is_none(), "the outdated copy went");
}

/// Whether copying the owner's book, once the search statement ran twice at its stamp, keeps a
/// copy; run here in the test's task (the service runs it in the background).
async fn copies(book: &Book) -> bool {
    let stamp: Option<i64> =
        diesel::select(search_stamp(book.owner)).get_result(&mut book.db.conn().await.unwrap()).await.unwrap();
    let stamp = stamp.expect("the owner has contacts");
    let texts = &book.repo.texts;
    assert!(texts.searched(book.owner.0, stamp).is_none(), "one search");
    let copying = texts.searched(book.owner.0, stamp).expect("the second search at one stamp");
    copy_book(&book.db, copying).await.expect("copy the book");
    let copied = texts.get(book.owner.0).is_some();
    if !copied {
        assert!(texts.searched(book.owner.0, stamp).is_none(), "a refusal holds while the stamp does");
    }
    copied
}

#[tokio::test]
async fn a_book_is_copied_from_its_thousandth_contact() {
    let book = book().await;
    fill_with_names(&book, search_texts::MIN_CONTACTS - 1).await;
    assert!(!copies(&book).await, "a book of 999 is not copied");
    book.add_named("Last", "One", "last.one@example.org").await;
    assert!(copies(&book).await, "a book of 1,000 is");
}

#[tokio::test]
async fn replace_overwrites_every_field_and_moves_only_updated_at() {
    let book = book().await;
    let original = book
        .add(NewContact {
            additional_info: Some(info("old notes")),
            ..new_contact("Ada", "Lovelace", "ada@example.com")
        })
        .await;
    tick().await;

    let replacement = NewContact {
        phone: phone("020 7946 0018"),
        birthday: birthday("1936-02-29"),
        additional_info: None,
        ..new_contact(" Augusta ", "King", "Augusta@Example.org")
    };
    let replaced = book.repo.replace(book.owner, original.id, replacement).await.unwrap().expect("replaced");

    assert_eq!(
        replaced,
        Contact {
            id: original.id,
            uid: original.uid.clone(),
            first_name: "Augusta".into(),
            last_name: "King".into(),
            email: Some("Augusta@Example.org".into()),
            phone: Some("020 7946 0018".into()),
            birthday: NaiveDate::from_ymd_opt(1936, 2, 29),
            birthday_md: Some(MonthDay { month: 2, day: 29 }),
            additional_info: None,
            emails: vec![typed("Augusta@Example.org")],
            phones: vec![typed("020 7946 0018")],
            created_at: original.created_at,
            updated_at: replaced.updated_at,
        }
    );
    assert!(replaced.updated_at > original.updated_at, "updated_at moves");
    assert_eq!(book.repo.get(book.owner, original.id).await.unwrap(), Some(replaced), "reads back as returned");
}

/// What a patch should turn the contact into, but for `updated_at`.
type Expected = fn(Contact) -> Contact;

#[tokio::test]
async fn update_changes_only_the_fields_sent() {
    let book = book().await;
    let mut current = book
        .add(NewContact { additional_info: Some(info("notes")), ..new_contact("Ada", "Lovelace", "ada@example.com") })
        .await;

    let steps: Vec<(ContactPatch, Expected)> = vec![
        (ContactPatch { first_name: Some(person_name(" Augusta ")), ..Default::default() }, |c| Contact {
            first_name: "Augusta".into(),
            ..c
        }),
        (ContactPatch { additional_info: Some(None), ..Default::default() }, |c| Contact {
            additional_info: None,
            ..c
        }),
        (ContactPatch { additional_info: Some(Some(info("new notes"))), ..Default::default() }, |c| Contact {
            additional_info: Some("new notes".into()),
            ..c
        }),
        (
            ContactPatch {
                last_name: Some(person_name("King")),
                email: Some(email("ADA@example.com")),
                phone: Some(phone("+44 20 7946 0018")),
                birthday: Some(birthday("1915-12-10")),
                additional_info: None,
                ..Default::default()
            },
            |c| Contact {
                last_name: "King".into(),
                email: Some("ADA@example.com".into()),
                phone: Some("+44 20 7946 0018".into()),
                birthday: NaiveDate::from_ymd_opt(1915, 12, 10),
                birthday_md: Some(MonthDay { month: 12, day: 10 }),
                emails: vec![typed("ADA@example.com")],
                phones: vec![typed("+44 20 7946 0018")],
                ..c
            },
        ),
    ];
    for (patch, expect) in steps {
        tick().await;
        let updated = book.repo.update(book.owner, current.id, patch.clone()).await.unwrap().expect("updated");
        assert_eq!(updated, Contact { updated_at: updated.updated_at, ..expect(current.clone()) }, "{patch:?}");
        assert!(updated.updated_at > current.updated_at, "updated_at moves on {patch:?}");
        assert_eq!(book.repo.get(book.owner, current.id).await.unwrap(), Some(updated.clone()), "{patch:?}");
        current = updated;
    }
}

#[tokio::test]
async fn replace_and_update_refuse_an_email_another_contact_has() {
    let book = book().await;
    let ada = book.add_named("Ada", "Lovelace", "ada@example.com").await;
    let grace = book.add_named("Grace", "Hopper", "grace@example.com").await;

    let patch = ContactPatch { email: Some(email("ADA@example.com")), ..Default::default() };
    let taken = contacts_domain::Conflict::ContactEmailTaken;
    assert_eq!(expect_conflict(book.repo.update(book.owner, grace.id, patch).await), taken);
    let replaced = book.repo.replace(book.owner, grace.id, new_contact("Grace", "Hopper", "Ada@Example.com")).await;
    assert_eq!(expect_conflict(replaced), taken);
    assert_eq!(book.repo.get(book.owner, grace.id).await.unwrap(), Some(grace), "unchanged");

    let recased = book.repo.replace(book.owner, ada.id, new_contact("Ada", "Lovelace", "ADA@EXAMPLE.COM")).await;
    assert_eq!(recased.unwrap().and_then(|c| c.email), Some("ADA@EXAMPLE.COM".into()), "its own email in another case");
}

#[tokio::test]
async fn rest_writes_refuse_an_email_a_card_brought_and_cards_may_share_one() {
    // API.md: REST's 409 is for "a contact with that email", whichever door made that contact;
    // cards arriving by import or CardDAV are accepted whatever their emails.
    use contacts_domain::contact::vcard::record;
    let book = book().await;
    let card = |uid: &str| {
        record(&format!(
            "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:Card {uid}\r\nEMAIL:twin@example.com\r\nEND:VCARD\r\n"
        ))
        .unwrap()
    };
    let outcomes = book.repo.import(book.owner, &[card("one"), card("two")]).await.unwrap();
    assert_eq!(outcomes, [ImportOutcome::Created, ImportOutcome::Created], "cards may share an email");
    let taken = contacts_domain::Conflict::ContactEmailTaken;
    let created = book.repo.create(book.owner, new_contact("Rest", "Made", "TWIN@example.com")).await;
    assert_eq!(expect_conflict(created), taken);

    let grace = book.add_named("Grace", "Hopper", "grace@example.com").await;
    let patch = ContactPatch { email: Some(email("Twin@Example.com")), ..Default::default() };
    assert_eq!(expect_conflict(book.repo.update(book.owner, grace.id, patch).await), taken);
    let replaced = book.repo.replace(book.owner, grace.id, new_contact("Grace", "Hopper", "twin@example.com")).await;
    assert_eq!(expect_conflict(replaced), taken);
    assert_eq!(book.repo.get(book.owner, grace.id).await.unwrap(), Some(grace.clone()), "unchanged");

    // A REST write that keeps a synced card's own email is not judged again: the card can be
    // edited, though its twin has the same email.
    let (listed, _) = book.list(&ContactFilter::default(), 0, 10).await;
    let one = listed.iter().find(|c| c.uid == "one").unwrap();
    let kept = book.repo.replace(book.owner, one.id, new_contact("Card", "One", "twin@example.com")).await;
    assert_eq!(kept.unwrap().and_then(|c| c.email), Some("twin@example.com".into()));
    // Another user's book is not this one.
    let other = book.other_owner().await;
    book.repo.create(other, new_contact("Rest", "Made", "twin@example.com")).await.unwrap();
}

#[tokio::test]
async fn with_birthday_on_matches_month_and_day_of_the_owners_contacts() {
    let book = book().await;
    let add = async |name: &str, born: &str| {
        let contact =
            NewContact { birthday: birthday(born), ..new_contact(name, "Doe", &format!("{name}@example.com")) };
        book.add(contact).await.id
    };
    let new_years_eve = add("eve", "1990-12-31").await;
    let new_year = add("jan", "1985-01-01").await;
    let leap_day = add("leap", "2000-02-29").await;
    let feb_28 = add("feb", "1999-02-28").await;
    let june = add("june", "1970-06-15").await;
    let intruder = book.other_owner().await;
    let other = NewContact { birthday: birthday("1991-12-31"), ..new_contact("Eve", "Other", "eve@example.com") };
    book.repo.create(intruder, other).await.unwrap();

    assert_eq!(book.birthdays_on(&[(12, 31), (1, 1)]).await, [new_years_eve, new_year]);
    assert_eq!(book.birthdays_on(&[(12, 31)]).await, [new_years_eve], "not the other owner's");
    assert_eq!(book.birthdays_on(&[(2, 29)]).await, [leap_day]);
    assert_eq!(book.birthdays_on(&[(2, 28)]).await, [feb_28]);
    assert_eq!(book.birthdays_on(&[(2, 28), (2, 29), (3, 1)]).await, [leap_day, feb_28]);
    assert_eq!(book.birthdays_on(&[(6, 15), (1, 1), (12, 30)]).await, [new_year, june]);
    assert_eq!(book.birthdays_on(&[(5, 17), (12, 1)]).await, []);
    assert_eq!(book.birthdays_on(&[]).await, []);

    let patch = ContactPatch { birthday: Some(birthday("1970-12-31")), ..Default::default() };
    book.repo.update(book.owner, june, patch).await.unwrap().expect("updated");
    assert_eq!(book.birthdays_on(&[(6, 15)]).await, [], "the stored month and day follow the birthday");
    assert_eq!(book.birthdays_on(&[(12, 31)]).await, [new_years_eve, june]);
}

#[tokio::test]
async fn birthdays_come_in_id_pages_and_are_counted_per_day() {
    let book = book().await;
    let mut ids = Vec::new();
    for (n, born) in ["1990-12-31", "1985-01-01", "1991-12-31", "2000-02-29", "1970-12-31"].into_iter().enumerate() {
        let name = format!("c{n}");
        let contact =
            NewContact { birthday: birthday(born), ..new_contact(&name, "Doe", &format!("{name}@example.com")) };
        ids.push(book.add(contact).await.id);
    }
    let intruder = book.other_owner().await;
    let other = NewContact { birthday: birthday("1991-12-31"), ..new_contact("Eve", "Other", "eve@example.com") };
    book.repo.create(intruder, other).await.unwrap();
    let (dec_31, jan_1, feb_29) =
        (MonthDay { month: 12, day: 31 }, MonthDay { month: 1, day: 1 }, MonthDay { month: 2, day: 29 });
    let page = async |after: Option<ContactId>, limit: Option<i64>| -> Vec<ContactId> {
        let found = book.repo.with_birthday_on(book.owner, &[dec_31, jan_1], after, limit).await.unwrap();
        found.into_iter().map(|c| c.id).collect()
    };

    assert_eq!(page(None, None).await, [ids[0], ids[1], ids[2], ids[4]], "in id order");
    assert_eq!(page(None, Some(2)).await, [ids[0], ids[1]]);
    assert_eq!(page(Some(ids[1]), Some(2)).await, [ids[2], ids[4]]);
    assert_eq!(page(Some(ids[4]), Some(2)).await, []);

    let days = [dec_31, jan_1, feb_29, MonthDay { month: 6, day: 1 }];
    let probe = async |most: i64| book.repo.birthdays_up_to(book.owner, &days, most, None).await.unwrap();
    let BirthdayProbe::All { contacts: whole, stamp: Some(_) } = probe(5).await else {
        panic!("five birthdays are at most five")
    };
    assert_eq!(whole.iter().map(|c| c.id).collect::<Vec<_>>(), ids, "read whole, in id order");
    let BirthdayProbe::Counted { mut counts, stamp: Some(_) } = probe(4).await else {
        panic!("five birthdays are more than four")
    };
    counts.sort_by_key(|(md, _)| (md.month, md.day));
    assert_eq!(counts, [(jan_1, 1), (feb_29, 1), (dec_31, 3)], "the other owner's is not counted");
    assert!(matches!(
        book.repo.birthdays_up_to(book.owner, &[], 0, None).await.unwrap(),
        BirthdayProbe::All { contacts, stamp: Some(_) } if contacts.is_empty()
    ));
}

#[tokio::test]
async fn a_birthday_list_carries_the_book_stamp_and_is_unchanged_until_the_book_changes() {
    let book = book().await;
    let days = [MonthDay { month: 12, day: 9 }];
    let probe = async |most: i64, seen: Option<BookStamp>| {
        book.repo.birthdays_up_to(book.owner, &days, most, seen).await.unwrap()
    };
    assert_eq!(probe(5, None).await, BirthdayProbe::All { contacts: vec![], stamp: None }, "no book yet");
    let ada =
        book.add(NewContact { birthday: birthday("1990-12-09"), ..new_contact("Ada", "L", "a@example.com") }).await;
    let listed = read_stamp(book.repo.book_page(book.owner, Page { skip: 0, limit: 1 }, None).await.unwrap()).2;

    let BirthdayProbe::All { contacts, stamp: Some(s1) } = probe(5, None).await else { panic!("a short list") };
    assert_eq!((contacts, s1), (vec![ada.clone()], listed), "the book stamp, as a list page's");
    let BirthdayProbe::Counted { stamp, .. } = probe(0, None).await else { panic!("a long list") };
    assert_eq!(stamp, Some(s1), "counted: the same stamp");
    assert_eq!(probe(5, Some(s1)).await, BirthdayProbe::Unchanged);

    // Any change to the book, even one that is not a birthday, is a new list to read.
    let patch = ContactPatch { phone: Some(phone("5550199")), ..Default::default() };
    book.repo.update(book.owner, ada.id, patch).await.unwrap().unwrap();
    let BirthdayProbe::All { contacts, stamp: Some(s2) } = probe(5, Some(s1)).await else { panic!("read again") };
    assert!(s2.0 > s1.0, "{s1:?} then {s2:?}");
    assert_eq!(contacts[0].phone.as_deref(), Some("5550199"));
    assert_eq!(probe(5, Some(s2)).await, BirthdayProbe::Unchanged);
}

#[tokio::test]
async fn deleting_a_user_deletes_their_contacts() {
    let book = book().await;
    book.add_named("Ada", "Lovelace", "ada@example.com").await;
    book.add_named("Grace", "Hopper", "grace@example.com").await;
    let survivor_owner = book.other_owner().await;
    let survivor = book.repo.create(survivor_owner, new_contact("Eve", "Doe", "eve@example.com")).await.unwrap();

    let deleted = execute_sql(&book.db, &format!("DELETE FROM users WHERE id = {}", book.owner)).await.unwrap();

    assert_eq!(deleted, 1);
    let mut conn = book.db.conn().await.unwrap();
    let remaining: Vec<i64> = contacts::table.select(contacts::user_id).load(&mut conn).await.unwrap();
    assert_eq!(remaining, [survivor_owner.0], "only the other owner's contact is left");
    assert_eq!(book.repo.get(survivor_owner, survivor.id).await.unwrap(), Some(survivor));
}

#[tokio::test]
async fn a_contact_needs_an_existing_owner() {
    let book = book().await;

    let result = book.repo.create(UserId(book.owner.0 + 1000), new_contact("Ada", "Lovelace", "ada@example.com")).await;

    assert!(matches!(result, Err(Error::Unexpected(_))), "{result:?}");
    let insert = format!(
        "INSERT INTO contacts (user_id, book_id, uid, href, card, first_name, last_name, email, phone, birthday) \
         VALUES ({}, (SELECT id FROM address_books WHERE user_id = {}), 'u', 'u.vcf', 'c', 'Ada', 'Lovelace', \
         'ada@example.com', '5550100', '1990-01-01')",
        book.owner.0 + 1000,
        book.owner.0
    );
    assert_violates(
        execute_sql(&book.db, &insert).await,
        DatabaseErrorKind::ForeignKeyViolation,
        "contacts_user_id_fkey",
    );
    assert_eq!(book.list(&ContactFilter::default(), 0, 10).await, (vec![], 0));
}

/// The table keeps what is an invariant from every door: email length, REST's one-email rule
/// (on `rest_email`, which only REST writes set, against every contact's email), and UID and card name unique per book. Name,
/// phone and note lengths are REST input rules only since contacts are vCards (a card from a
/// phone may have no first name or a long note), so the domain checks them, not the table.
#[tokio::test]
async fn the_contacts_table_checks_its_invariants() {
    let book = book().await;
    let insert = |email: &str, rest_email: &str, uid: &str, href: &str| {
        format!(
            "INSERT INTO contacts (user_id, book_id, uid, href, card, first_name, last_name, email, rest_email) \
             VALUES ({owner}, (SELECT id FROM address_books WHERE user_id = {owner}), '{uid}', '{href}', 'c', \
             '', 'X', {email}, {rest_email})",
            owner = book.owner.0
        )
    };
    assert_violates(
        execute_sql(&book.db, &insert("repeat('e', 255)", "NULL", "u0", "h0")).await,
        DatabaseErrorKind::CheckViolation,
        "contacts_email_check",
    );
    execute_sql(&book.db, &insert("'ada@example.com'", "'ada@example.com'", "u1", "h1")).await.unwrap();
    // A card-sourced contact may share the email (its rest_email is NULL)...
    execute_sql(&book.db, &insert("'ada@example.com'", "NULL", "u2", "h2")).await.unwrap();
    // ...a REST-written one may not, in any case...
    assert_violates(
        execute_sql(&book.db, &insert("'ADA@example.com'", "'ADA@example.com'", "u3", "h3")).await,
        DatabaseErrorKind::UniqueViolation,
        "contacts_user_email_key",
    );
    // ...nor the email of a contact that came as a card (the trigger says it as the index does).
    execute_sql(&book.db, &insert("'bob@example.com'", "NULL", "u6", "h6")).await.unwrap();
    assert_violates(
        execute_sql(&book.db, &insert("'BOB@example.com'", "'BOB@example.com'", "u7", "h7")).await,
        DatabaseErrorKind::UniqueViolation,
        "contacts_user_email_key",
    );
    assert_violates(
        execute_sql(&book.db, &insert("NULL", "NULL", "u1", "h4")).await,
        DatabaseErrorKind::UniqueViolation,
        "contacts_book_uid_key",
    );
    assert_violates(
        execute_sql(&book.db, &insert("NULL", "NULL", "u5", "h1")).await,
        DatabaseErrorKind::UniqueViolation,
        "contacts_book_href_key",
    );
}

#[tokio::test]
async fn import_upserts_by_uid_and_cards_read_back_as_stored() {
    use contacts_domain::contact::vcard::{Version, record};
    let book = book().await;
    let card = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ada Lovelace\r\nEMAIL;type=HOME:ada@example.com\r\n\
                BDAY:--1210\r\nORG:Analytical\r\nUID:ada-1\r\nEND:VCARD\r\n";
    let first = record(card).unwrap();
    let twin = record(&card.replace("UID:ada-1", "UID:ada-2")).unwrap();
    let outcomes = book.repo.import(book.owner, &[first.clone(), twin]).await.unwrap();
    assert_eq!(outcomes, vec![ImportOutcome::Created, ImportOutcome::Created], "shared emails are fine for cards");
    let outcomes = book.repo.import(book.owner, &[first]).await.unwrap();
    assert_eq!(outcomes, vec![ImportOutcome::Updated]);

    let cards = book.repo.cards_after(book.owner, None, 1).await.unwrap();
    assert_eq!(cards.len(), 1, "pages are as long as asked");
    let stored = &cards[0];
    assert_eq!((stored.card.as_str(), stored.dirty), (card, false), "kept byte for byte");
    assert_eq!(stored.render(Version::V3), card);
    let c = &stored.contact;
    assert_eq!((c.uid.as_str(), c.first_name.as_str(), c.last_name.as_str()), ("ada-1", "Ada", "Lovelace"));
    assert_eq!((c.birthday, c.birthday_md), (None, Some(MonthDay { month: 12, day: 10 })));
    assert_eq!(c.emails, vec![TypedValue { value: "ada@example.com".into(), kind: Some("home".into()) }]);
    let rest = book.repo.cards_after(book.owner, Some(c.id), 10).await.unwrap();
    assert_eq!(rest.iter().map(|s| s.contact.uid.as_str()).collect::<Vec<_>>(), ["ada-2"]);
    let dec_10 = [MonthDay { month: 12, day: 10 }];
    assert_eq!(book.repo.with_birthday_on(book.owner, &dec_10, None, None).await.unwrap().len(), 2);

    // A REST edit marks the card for rewriting and keeps what REST does not map.
    let patch = ContactPatch { first_name: Some(person_name("Augusta")), ..Default::default() };
    book.repo.update(book.owner, c.id, patch).await.unwrap().expect("updated");
    let edited = book.repo.card(book.owner, c.id).await.unwrap().expect("a card");
    assert!(edited.dirty);
    let text = edited.render(Version::V3);
    assert!(text.contains("FN:Augusta Lovelace\r\n") && text.contains("ORG:Analytical\r\n"), "{text}");
    assert_eq!(book.repo.card(UserId(book.owner.0 + 1000), c.id).await.unwrap(), None);
}

/// A list entry without a type, as REST writes them.
fn typed(value: &str) -> TypedValue {
    TypedValue { value: value.to_owned(), kind: None }
}

#[tokio::test]
async fn emails_and_phones_are_read_whatever_their_column_holds() {
    let book = book().await;
    let ada = book.repo.create(book.owner, new_contact("Ada", "Lovelace", "ada@example.org")).await.unwrap();
    let typed = |value: &str, kind: Option<&str>| TypedValue { value: value.to_owned(), kind: kind.map(str::to_owned) };
    // As the adapter writes them (an unknown key is ignored), and entries it would not write,
    // which are skipped while the rest is still read.
    execute_sql(
        &book.db,
        &format!(
            r#"UPDATE contacts SET
               emails = '[{{"value": "a@x.org", "type": "home"}}, {{"value": "b@x.org", "type": null, "pref": 1}}]',
               phones = '[{{"value": 5}}, {{"value": "+1 555", "type": "cell"}}, "x", {{"type": "work"}}]'
               WHERE id = {}"#,
            ada.id.0
        ),
    )
    .await
    .unwrap();
    let read = book.repo.get(book.owner, ada.id).await.unwrap().unwrap();
    assert_eq!(read.emails, vec![typed("a@x.org", Some("home")), typed("b@x.org", None)]);
    assert_eq!(read.phones, vec![typed("+1 555", Some("cell"))]);
    execute_sql(&book.db, &format!("UPDATE contacts SET emails = '{{}}', phones = '[]' WHERE id = {}", ada.id.0))
        .await
        .unwrap();
    let read = book.repo.get(book.owner, ada.id).await.unwrap().unwrap();
    assert_eq!((read.emails, read.phones), (vec![], vec![]));
}

/// The lists are `json`, kept as the text written and read back as it is: as `jsonb` they were
/// turned into text again at every read, two a row of every page (issue 15).
#[tokio::test]
async fn emails_and_phones_are_kept_as_json_text() {
    let book = book().await;
    execute_sql(
        &book.db,
        "DO $$ BEGIN \
           IF (SELECT array_agg(data_type::text ORDER BY column_name) FROM information_schema.columns \
               WHERE table_name = 'contacts' AND column_name IN ('emails', 'phones')) <> ARRAY['json', 'json'] THEN \
             RAISE EXCEPTION 'emails and phones are not json'; END IF; \
         END $$",
    )
    .await
    .unwrap();
}

/// The stamp of a page read fresh, after checking it was read.
fn read_stamp(listed: Listed) -> (Vec<Contact>, i64, BookStamp) {
    match listed {
        Listed::Read { contacts, total, stamp: Some(stamp) } => (contacts, total, stamp),
        other => panic!("expected a page read with its stamp, got {other:?}"),
    }
}

#[tokio::test]
async fn a_whole_book_page_is_unchanged_until_one_of_the_owners_contacts_changes_whichever_way() {
    let book = book().await;
    let first = Page { skip: 0, limit: 20 };
    assert_eq!(
        book.repo.book_page(book.owner, first, None).await.unwrap(),
        Listed::Read { contacts: vec![], total: 0, stamp: None },
        "an owner who never had a contact has no stamp to keep a copy under"
    );
    let ada = book.add_named("Ada", "Lovelace", "ada@example.com").await;
    let grace = book.add_named("Grace", "Hopper", "grace@example.com").await;

    let (contacts, total, s1) = read_stamp(book.repo.book_page(book.owner, first, None).await.unwrap());
    assert_eq!((contacts, total), (vec![ada.clone(), grace.clone()], 2));
    assert_eq!(book.repo.book_page(book.owner, first, Some(s1)).await.unwrap(), Listed::Unchanged);
    let past_the_end = Page { skip: 5, limit: 20 };
    assert_eq!(book.repo.book_page(book.owner, past_the_end, Some(s1)).await.unwrap(), Listed::Unchanged);
    assert_eq!(
        read_stamp(book.repo.book_page(book.owner, past_the_end, Some(BookStamp(s1.0 - 1))).await.unwrap()),
        (vec![], 2, s1),
        "a page past the end still carries the total and the stamp"
    );

    // Another owner's contacts are not this book.
    book.repo.create(book.other_owner().await, new_contact("Eve", "Doe", "eve@example.com")).await.unwrap();
    assert_eq!(book.repo.book_page(book.owner, first, Some(s1)).await.unwrap(), Listed::Unchanged);

    // A field no search reads, through the port; any column, in SQL; a delete; an insert.
    let patch = ContactPatch { phone: Some(phone("5550199")), ..Default::default() };
    book.repo.update(book.owner, grace.id, patch).await.unwrap().unwrap();
    let (contacts, _, s2) = read_stamp(book.repo.book_page(book.owner, first, Some(s1)).await.unwrap());
    assert_eq!(contacts[1].phone.as_deref(), Some("5550199"));
    execute_sql(&book.db, &format!("UPDATE contacts SET card_dirty = NOT card_dirty WHERE id = {}", ada.id.0))
        .await
        .unwrap();
    let (_, _, s3) = read_stamp(book.repo.book_page(book.owner, first, Some(s2)).await.unwrap());
    assert!(book.repo.delete(book.owner, ada.id).await.unwrap());
    let (contacts, total, s4) = read_stamp(book.repo.book_page(book.owner, first, Some(s3)).await.unwrap());
    assert_eq!((contacts.len(), total), (1, 1));
    let alan = book.add_named("Alan", "Turing", "alan@example.com").await;
    let (_, total, s5) = read_stamp(book.repo.book_page(book.owner, first, Some(s4)).await.unwrap());
    assert_eq!(total, 2);
    // An import that only replaces a card: its upsert inserts nothing, so no insert is counted.
    let card = format!(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Turing;Alan M.;;;\r\nFN:Alan M. Turing\r\nUID:{}\r\nEND:VCARD\r\n",
        alan.uid
    );
    let replaced = contacts_domain::contact::vcard::record(&card).unwrap();
    assert_eq!(book.repo.import(book.owner, &[replaced]).await.unwrap(), vec![ImportOutcome::Updated]);
    let (contacts, total, s6) = read_stamp(book.repo.book_page(book.owner, first, Some(s5)).await.unwrap());
    assert_eq!((contacts[1].first_name.as_str(), total), ("Alan M.", 2));
    let stamps = [s1, s2, s3, s4, s5, s6];
    assert!(stamps.windows(2).all(|w| w[0].0 < w[1].0), "stamps only grow: {stamps:?}");

    // A deep page is read from its marks and never kept.
    let deep = Page { skip: page_marks::STRIDE, limit: 20 };
    assert_eq!(
        book.repo.book_page(book.owner, deep, Some(s6)).await.unwrap(),
        Listed::Read { contacts: vec![], total: 2, stamp: None }
    );
}

/// A contact REST made keeps its claim on its email (REST's `409`) while the cards a phone or
/// an import writes over it still have that email first, and gives it up when they do not.
#[tokio::test]
async fn a_rest_contact_written_again_as_a_card_keeps_its_email_taken() {
    use contacts_domain::addressbook::AddressBookStore;
    use contacts_domain::contact::vcard::record;
    let book = book().await;
    let books = crate::PgAddressBooks::new(book.db.clone());
    let ada = book.add_named("Ada", "Lovelace", "ada@example.com").await;
    let card_of = |name: &str, email: &str| {
        let text =
            format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{}\r\nFN:{name}\r\nEMAIL:{email}\r\nEND:VCARD\r\n", ada.uid);
        record(&text).unwrap()
    };
    let (repo, owner) = (&book.repo, book.owner);
    let taken = |name: &'static str| async move {
        let second = repo.create(owner, new_contact(name, "Twin", "ADA@example.com")).await;
        matches!(second, Err(Error::Conflict(contacts_domain::Conflict::ContactEmailTaken)))
    };

    let href = format!("{}.vcf", ada.uid);
    let always = |_: Option<&StoredCard>| true;
    books
        .put_card(book.owner, DEFAULT_BOOK, &href, &card_of("Augusta Lovelace", "Ada@Example.com"), &always)
        .await
        .unwrap();
    assert!(taken("Synced").await, "a phone syncing the contact back keeps its email taken");
    book.repo.import(book.owner, &[card_of("Ada King", "ada@example.com")]).await.unwrap();
    assert!(taken("Imported").await, "so does an import of it");

    book.repo.import(book.owner, &[card_of("Ada King", "countess@example.com")]).await.unwrap();
    assert!(!taken("Freed").await, "a card with another first email frees it");

    // So does a phone's PUT of a card whose first email changed.
    let grace = book.add_named("Grace", "Hopper", "grace@example.com").await;
    let moved = format!(
        "BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{}\r\nFN:Grace H\r\nEMAIL:hopper@example.com\r\nEND:VCARD\r\n",
        grace.uid
    );
    let href = format!("{}.vcf", grace.uid);
    books.put_card(book.owner, DEFAULT_BOOK, &href, &record(&moved).unwrap(), &always).await.unwrap();
    let twin = book.repo.create(book.owner, new_contact("Grace", "Twin", "GRACE@example.com")).await;
    assert!(twin.is_ok(), "{twin:?}");
}

#[tokio::test]
async fn an_imported_card_replaces_the_contact_with_its_uid_in_whichever_book_holds_it() {
    use contacts_domain::addressbook::AddressBookStore;
    use contacts_domain::contact::vcard::record;
    let book = book().await;
    let books = crate::PgAddressBooks::new(book.db.clone());
    assert!(books.create_book(book.owner, "work", "Work", "", &[]).await.unwrap());
    let card = |uid: &str, name: &str| {
        record(&format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:{name}\r\nEND:VCARD\r\n")).unwrap()
    };
    let always = |_: Option<&StoredCard>| true;
    books.put_card(book.owner, "work", "grace.vcf", &card("grace", "Grace Hopper"), &always).await.unwrap();
    books.put_card(book.owner, "work", "twin.vcf", &card("twin", "Twin Work"), &always).await.unwrap();
    books.put_card(book.owner, DEFAULT_BOOK, "twin.vcf", &card("twin", "Twin Default"), &always).await.unwrap();

    // An export of every book, imported back: nothing is copied.
    let outcomes = book
        .repo
        .import(book.owner, &[card("grace", "Grace Changed"), card("twin", "Twin Again"), card("new", "New One")])
        .await
        .unwrap();
    assert_eq!(outcomes, [ImportOutcome::Updated, ImportOutcome::Updated, ImportOutcome::Created]);
    let all = book.repo.cards_after(book.owner, None, 10).await.unwrap();
    let names: Vec<(&str, &str)> = all.iter().map(|c| (c.contact.uid.as_str(), c.contact.last_name.as_str())).collect();
    assert_eq!(
        names,
        [("grace", "Changed"), ("twin", "Work"), ("twin", "Again"), ("new", "One")],
        "the work book's card replaced where it is; a UID in both books is the default book's"
    );
    let work = books.cards(book.owner, "work", None, 10).await.unwrap().expect("the book");
    assert_eq!(work.iter().map(|c| c.href.as_str()).collect::<Vec<_>>(), ["grace.vcf", "twin.vcf"], "names kept");
}
