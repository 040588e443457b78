use super::*;

use std::sync::{Arc, Mutex};

use chrono::{NaiveDate, TimeZone, Utc};

use crate::clock::MockClock;
use crate::contact::{MockContactRepository, MonthDay};
use crate::error::Conflict;

const OWNER: UserId = UserId(42);

type Service = ContactService<MockContactRepository, MockClock>;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// A clock standing at noon (UTC) of the given day.
fn fixed_clock(y: i32, m: u32, d: u32) -> MockClock {
    let now = Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap();
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now);
    clock.expect_today().return_const(now.date_naive());
    clock
}

fn service(contacts: MockContactRepository) -> Service {
    ContactService::new(contacts, fixed_clock(2025, 6, 15))
}

fn contact(id: i64, birthday: NaiveDate) -> Contact {
    let stamp = Utc.with_ymd_and_hms(2025, 1, 1, 8, 0, 0).unwrap();
    Contact {
        id: ContactId(id),
        first_name: format!("First{id}"),
        last_name: "Last".to_owned(),
        uid: format!("uid-{id}"),
        email: Some(format!("c{id}@example.org")),
        phone: Some("+1 555 123 4567".to_owned()),
        birthday: Some(birthday),
        birthday_md: Some(crate::contact::MonthDay::of(birthday)),
        additional_info: None,
        emails: vec![crate::contact::TypedValue { value: format!("c{id}@example.org"), kind: None }],
        phones: vec![crate::contact::TypedValue { value: "+1 555 123 4567".to_owned(), kind: None }],
        created_at: stamp,
        updated_at: stamp,
    }
}

fn valid_input(birthday: &str) -> ContactInput {
    ContactInput {
        first_name: Some(" Ada ".to_owned()),
        last_name: Some("Lovelace".to_owned()),
        email: Some("ada@example.org".to_owned()),
        phone: Some("+44 20 7946 0018".to_owned()),
        birthday: Some(birthday.to_owned()),
        additional_info: None,
        emails: None,
        phones: None,
    }
}

fn ids(contacts: &[Contact]) -> Vec<i64> {
    contacts.iter().map(|c| c.id.0).collect()
}

fn problems_of<T: std::fmt::Debug>(result: Result<T, Error>) -> Vec<(String, &'static str)> {
    match result.unwrap_err() {
        Error::Invalid(problems) => problems.into_iter().map(|p| (p.field(), p.rule.name())).collect(),
        other => panic!("expected Error::Invalid, got {other:?}"),
    }
}

fn assert_contact_not_found<T: std::fmt::Debug>(result: Result<T, Error>) {
    match result {
        Err(Error::NotFound(message)) => assert_eq!(message, "Contact not found"),
        other => panic!("expected Error::NotFound, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// list

fn never_listing() -> MockContactRepository {
    let mut contacts = MockContactRepository::new();
    contacts.expect_list().never();
    contacts
}

/// The filter and page of every `list` call a repository received.
type ListCalls = Arc<Mutex<Vec<(ContactFilter, Page)>>>;

/// A repository whose `list` records the filter and page it is given and answers `answer`.
fn recording_list(answer: (Vec<Contact>, i64)) -> (MockContactRepository, ListCalls) {
    let calls: ListCalls = Arc::default();
    let sink = Arc::clone(&calls);
    let mut contacts = MockContactRepository::new();
    contacts.expect_list().withf(|owner, _, _| *owner == OWNER).times(1).returning(move |_, filter, page| {
        sink.lock().unwrap().push((filter.clone(), page));
        Ok(answer.clone())
    });
    (contacts, calls)
}

fn query(skip: i64, limit: i64) -> ListQuery {
    ListQuery { skip, limit, filter: ContactFilter::default() }
}

#[tokio::test]
async fn list_rejects_a_negative_skip() {
    let result = service(never_listing()).list_since(OWNER, query(-1, 100), None).await;

    assert_eq!(problems_of(result), vec![("skip".to_owned(), "Range")]);
}

#[tokio::test]
async fn list_rejects_limits_outside_1_to_1000() {
    for limit in [0, 1001, -5] {
        let result = service(never_listing()).list_since(OWNER, query(0, limit), None).await;

        assert_eq!(problems_of(result), vec![("limit".to_owned(), "Range")], "limit {limit}");
    }
}

#[tokio::test]
async fn list_reports_a_bad_skip_and_a_bad_limit_together() {
    let result = service(never_listing()).list_since(OWNER, query(-1, 0), None).await;

    assert_eq!(problems_of(result), vec![("skip".to_owned(), "Range"), ("limit".to_owned(), "Range")]);
}

#[tokio::test]
async fn list_accepts_the_limits_1_and_1000_and_passes_the_page_on() {
    for (skip, limit) in [(0, 1), (250, 1000)] {
        let page_of_one = Listed::Read { contacts: vec![contact(1, date(1990, 1, 1))], total: 17, stamp: None };
        let answer = page_of_one.clone();
        let mut contacts = MockContactRepository::new();
        contacts
            .expect_book_page()
            .withf(move |owner, page, seen| (*owner, *page, *seen) == (OWNER, Page { skip, limit }, None))
            .times(1)
            .returning(move |_, _, _| Ok(answer.clone()));

        let listed = service(contacts).list_since(OWNER, query(skip, limit), None).await.unwrap();

        assert_eq!(listed, page_of_one);
    }
}

#[tokio::test]
async fn list_drops_empty_filters_and_keeps_the_others_as_sent() {
    let (contacts, calls) = recording_list((Vec::new(), 0));
    let filter = ContactFilter {
        first_name: Some(String::new()),
        last_name: Some("Love%".to_owned()),
        email: Some(String::new()),
        q: Some(String::new()),
    };

    service(contacts).list_since(OWNER, ListQuery { filter, ..ListQuery::default() }, None).await.unwrap();

    let calls = calls.lock().unwrap();
    assert_eq!(
        calls[0],
        (
            ContactFilter { first_name: None, last_name: Some("Love%".to_owned()), email: None, q: None },
            Page { skip: 0, limit: 100 }
        )
    );
}

#[tokio::test]
async fn list_since_asks_the_book_with_the_callers_stamp_when_there_is_no_filter() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_list().never();
    contacts
        .expect_book_page()
        .withf(|owner, page, seen| (*owner, *page, *seen) == (OWNER, Page { skip: 40, limit: 20 }, Some(BookStamp(7))))
        .times(1)
        .returning(|_, _, _| Ok(Listed::Unchanged));
    // Empty filters are no filter.
    let filter = ContactFilter { q: Some(String::new()), ..ContactFilter::default() };
    let query = ListQuery { skip: 40, limit: 20, filter };

    let listed = service(contacts).list_since(OWNER, query, Some(BookStamp(7))).await.unwrap();

    assert_eq!(listed, Listed::Unchanged);
}

#[tokio::test]
async fn list_since_reads_a_search_every_time_and_gives_it_no_stamp() {
    let found = vec![contact(1, date(1990, 1, 1))];
    let (mut contacts, calls) = recording_list((found.clone(), 1));
    contacts.expect_book_page().never();
    let filter = ContactFilter { q: Some("ada".to_owned()), ..ContactFilter::default() };

    let listed = service(contacts)
        .list_since(OWNER, ListQuery { filter: filter.clone(), ..ListQuery::default() }, Some(BookStamp(7)))
        .await
        .unwrap();

    assert_eq!(listed, Listed::Read { contacts: found, total: 1, stamp: None });
    assert_eq!(calls.lock().unwrap()[0].0, filter);
}

#[tokio::test]
async fn list_passes_every_non_empty_filter() {
    let (contacts, calls) = recording_list((Vec::new(), 0));
    let filter = ContactFilter {
        first_name: Some("a".to_owned()),
        last_name: Some("b".to_owned()),
        email: Some("c".to_owned()),
        q: Some("d".to_owned()),
    };

    service(contacts)
        .list_since(OWNER, ListQuery { filter: filter.clone(), ..ListQuery::default() }, None)
        .await
        .unwrap();

    assert_eq!(calls.lock().unwrap()[0].0, filter);
}

// ---------------------------------------------------------------------------------------------
// get, replace, update, delete

#[tokio::test]
async fn get_returns_the_owners_contact() {
    let mut contacts = MockContactRepository::new();
    contacts
        .expect_get()
        .withf(|owner, id| *owner == OWNER && *id == ContactId(3))
        .times(1)
        .returning(|_, id| Ok(Some(contact(id.0, date(1990, 1, 1)))));

    let found = service(contacts).get(OWNER, ContactId(3)).await.unwrap();

    assert_eq!(found, contact(3, date(1990, 1, 1)));
}

#[tokio::test]
async fn get_of_a_missing_contact_is_not_found() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_get().times(1).returning(|_, _| Ok(None));

    assert_contact_not_found(service(contacts).get(OWNER, ContactId(3)).await);
}

#[tokio::test]
async fn replace_stores_the_validated_contact() {
    let mut contacts = MockContactRepository::new();
    contacts
        .expect_replace()
        .withf(|owner, id, new| {
            *owner == OWNER
                && *id == ContactId(3)
                && new.first_name.as_str() == "Ada"
                && new.birthday.date() == date(1990, 12, 10)
                && new.additional_info.is_none()
        })
        .times(1)
        .returning(|_, id, _| Ok(Some(contact(id.0, date(1990, 12, 10)))));

    let replaced = service(contacts).replace(OWNER, ContactId(3), valid_input("1990-12-10")).await.unwrap();

    assert_eq!(replaced.id, ContactId(3));
}

#[tokio::test]
async fn replace_of_a_missing_contact_is_not_found() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_replace().times(1).returning(|_, _, _| Ok(None));

    assert_contact_not_found(service(contacts).replace(OWNER, ContactId(3), valid_input("1990-12-10")).await);
}

#[tokio::test]
async fn replace_validates_before_touching_the_store() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_replace().never();
    let input = ContactInput { phone: None, ..valid_input("1990-12-10") };

    let result = service(contacts).replace(OWNER, ContactId(3), input).await;

    assert_eq!(problems_of(result), vec![("phone".to_owned(), "Missing")]);
}

#[tokio::test]
async fn update_passes_the_validated_patch() {
    let mut contacts = MockContactRepository::new();
    contacts
        .expect_update()
        .withf(|owner, id, patch| {
            *owner == OWNER
                && *id == ContactId(3)
                && *patch == ContactPatch { additional_info: Some(None), ..ContactPatch::default() }
        })
        .times(1)
        .returning(|_, id, _| Ok(Some(contact(id.0, date(1990, 1, 1)))));
    let input = ContactPatchInput { additional_info: Some(None), ..ContactPatchInput::default() };

    let updated = service(contacts).update(OWNER, ContactId(3), input).await.unwrap();

    assert_eq!(updated.id, ContactId(3));
}

#[tokio::test]
async fn update_of_a_missing_contact_is_not_found() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_update().times(1).returning(|_, _, _| Ok(None));
    let input = ContactPatchInput { first_name: Some(Some("Ada".to_owned())), ..ContactPatchInput::default() };

    assert_contact_not_found(service(contacts).update(OWNER, ContactId(3), input).await);
}

#[tokio::test]
async fn update_refuses_an_empty_patch_without_touching_the_store() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_update().never();

    let result = service(contacts).update(OWNER, ContactId(3), ContactPatchInput::default()).await;

    assert!(matches!(result, Err(Error::Invalid(_))), "{result:?}");
}

#[tokio::test]
async fn update_judges_a_birthday_against_the_clocks_today() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_update().never();
    let input = ContactPatchInput { birthday: Some(Some("2025-06-16".to_owned())), ..ContactPatchInput::default() };

    let result = service(contacts).update(OWNER, ContactId(3), input).await;

    assert_eq!(problems_of(result), vec![("birthday".to_owned(), "FutureDate")]);
}

#[tokio::test]
async fn delete_of_an_existing_contact_succeeds() {
    let mut contacts = MockContactRepository::new();
    contacts
        .expect_delete()
        .withf(|owner, id| *owner == OWNER && *id == ContactId(3))
        .times(1)
        .returning(|_, _| Ok(true));

    service(contacts).delete(OWNER, ContactId(3)).await.unwrap();
}

#[tokio::test]
async fn delete_of_a_missing_contact_is_not_found() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_delete().times(1).returning(|_, _| Ok(false));

    assert_contact_not_found(service(contacts).delete(OWNER, ContactId(3)).await);
}

// ---------------------------------------------------------------------------------------------
// create

#[tokio::test]
async fn create_accepts_a_birthday_of_today() {
    let mut contacts = MockContactRepository::new();
    contacts
        .expect_create()
        .withf(|owner, new| {
            *owner == OWNER && new.birthday.date() == date(2025, 6, 15) && new.first_name.as_str() == "Ada"
        })
        .times(1)
        .returning(|_, new| Ok(contact(1, new.birthday.date())));

    let created = service(contacts).create(OWNER, valid_input("2025-06-15")).await.unwrap();

    assert_eq!(created.birthday, Some(date(2025, 6, 15)));
}

#[tokio::test]
async fn create_refuses_a_birthday_of_tomorrow() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_create().never();

    let result = service(contacts).create(OWNER, valid_input("2025-06-16")).await;

    assert_eq!(problems_of(result), vec![("birthday".to_owned(), "FutureDate")]);
}

#[tokio::test]
async fn create_propagates_a_duplicate_email_conflict() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_create().times(1).returning(|_, _| Err(Error::Conflict(Conflict::ContactEmailTaken)));

    let result = service(contacts).create(OWNER, valid_input("1990-12-10")).await;

    assert!(matches!(result, Err(Error::Conflict(Conflict::ContactEmailTaken))), "{result:?}");
}

// ---------------------------------------------------------------------------------------------
// upcoming_birthdays

fn md(month: u32, day: u32) -> MonthDay {
    MonthDay { month, day }
}

/// A repository that expects one first read of exactly `window` (at most a chunk) and answers
/// `found`, a short list.
fn birthdays_on(window: Vec<MonthDay>, found: Vec<Contact>) -> MockContactRepository {
    let mut contacts = MockContactRepository::new();
    contacts
        .expect_birthdays_up_to()
        .withf(move |owner, days, most, seen| {
            *owner == OWNER && days == window.as_slice() && *most == BIRTHDAY_CHUNK as i64 && seen.is_none()
        })
        .times(1)
        .returning(move |_, _, _, _| Ok(BirthdayProbe::All { contacts: found.clone(), stamp: Some(BookStamp(3)) }));
    contacts.expect_with_birthday_on().never();
    contacts
}

/// A list that was read: its first part and the rest.
fn read(birthdays: Birthdays) -> (Vec<Contact>, Option<BirthdayList>) {
    match birthdays {
        Birthdays::Read { first, rest, .. } => (first, rest),
        Birthdays::Unchanged => panic!("nothing was kept, so nothing can be unchanged"),
    }
}

/// A short list's contacts (a long one fails the test).
async fn short_list(service: &Service, days: i64) -> Vec<Contact> {
    let (contacts, rest) = read(service.upcoming_birthdays(OWNER, days, None).await.unwrap());
    assert!(rest.is_none(), "a short list comes whole");
    contacts
}

#[tokio::test]
async fn a_birthday_list_read_carries_its_book_stamp_and_day() {
    let found = vec![contact(1, date(1990, 6, 16))];
    let service = service(birthdays_on(vec![md(6, 15), md(6, 16)], found));

    let listed = service.upcoming_birthdays(OWNER, 1, None).await.unwrap();

    let Birthdays::Read { first, rest: None, stamp } = listed else { panic!("a short list, read: {listed:?}") };
    assert_eq!(ids(&first), vec![1]);
    assert_eq!(stamp, Some(BirthdayStamp { book: BookStamp(3), today: date(2025, 6, 15) }));
}

#[tokio::test]
async fn a_kept_list_of_today_is_asked_about_with_its_book_stamp_and_may_come_back_unchanged() {
    let mut contacts = MockContactRepository::new();
    contacts
        .expect_birthdays_up_to()
        .withf(|_, _, _, seen| *seen == Some(BookStamp(9)))
        .times(1)
        .returning(|_, _, _, _| Ok(BirthdayProbe::Unchanged));
    contacts.expect_with_birthday_on().never();
    let kept = BirthdayStamp { book: BookStamp(9), today: date(2025, 6, 15) };

    let listed = service(contacts).upcoming_birthdays(OWNER, 7, Some(kept)).await.unwrap();

    assert_eq!(listed, Birthdays::Unchanged);
}

#[tokio::test]
async fn a_kept_list_of_another_day_is_not_asked_about_and_the_list_is_read_again() {
    // Kept yesterday: today's window is another list, whatever the book's stamp says.
    let yesterday = BirthdayStamp { book: BookStamp(3), today: date(2025, 6, 14) };
    let service = service(birthdays_on(vec![md(6, 15)], Vec::new()));

    let listed = service.upcoming_birthdays(OWNER, 0, Some(yesterday)).await.unwrap();

    let today = BirthdayStamp { book: BookStamp(3), today: date(2025, 6, 15) };
    assert_eq!(listed, Birthdays::Read { first: Vec::new(), rest: None, stamp: Some(today) });
}

#[tokio::test]
async fn an_unchanged_answer_to_a_list_asked_without_a_stamp_is_an_unexpected_error() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_birthdays_up_to().returning(|_, _, _, _| Ok(BirthdayProbe::Unchanged));

    let result = service(contacts).upcoming_birthdays(OWNER, 7, None).await;

    assert!(matches!(result, Err(Error::Unexpected(_))), "{result:?}");
}

#[tokio::test]
async fn upcoming_birthdays_rejects_days_outside_0_to_365() {
    for days in [-1, 366, i64::MAX, i64::MIN] {
        let mut contacts = MockContactRepository::new();
        contacts.expect_birthdays_up_to().never();

        let result = service(contacts).upcoming_birthdays(OWNER, days, None).await;

        assert_eq!(problems_of(result), vec![("days".to_owned(), "Range")], "days {days}");
    }
}

#[tokio::test]
async fn upcoming_birthdays_accepts_0_and_365_days() {
    let today_only = birthdays_on(vec![md(6, 15)], Vec::new());
    assert!(short_list(&service(today_only), 0).await.is_empty());

    let mut whole_year = MockContactRepository::new();
    whole_year
        .expect_birthdays_up_to()
        .withf(|_, days, _, _| days.len() == 366)
        .times(1)
        .returning(|_, _, _, _| Ok(BirthdayProbe::All { contacts: Vec::new(), stamp: None }));
    assert!(short_list(&service(whole_year), 365).await.is_empty());
}

#[tokio::test]
async fn upcoming_birthdays_window_wraps_the_year_end() {
    let contacts = birthdays_on(vec![md(1, 1), md(12, 31)], Vec::new());
    let service = ContactService::new(contacts, fixed_clock(2025, 12, 31));

    short_list(&service, 1).await;
}

#[tokio::test]
async fn upcoming_birthdays_are_sorted_soonest_first_across_the_year_end_with_ties_by_id() {
    let found = vec![
        contact(1, date(1990, 1, 1)),
        contact(5, date(1985, 12, 31)),
        contact(3, date(2001, 12, 31)),
        contact(2, date(1970, 1, 1)),
    ];
    let contacts = birthdays_on(vec![md(1, 1), md(12, 31)], found);
    let service = ContactService::new(contacts, fixed_clock(2025, 12, 31));

    let upcoming = short_list(&service, 1).await;

    assert_eq!(ids(&upcoming), vec![3, 5, 1, 2]);
}

#[tokio::test]
async fn a_29_february_birthday_is_celebrated_today_on_28_february_of_a_non_leap_year() {
    let found = vec![contact(4, date(1990, 3, 1)), contact(2, date(1980, 2, 28)), contact(1, date(2000, 2, 29))];
    let contacts = birthdays_on(vec![md(2, 28), md(2, 29), md(3, 1)], found);
    let service = ContactService::new(contacts, fixed_clock(2025, 2, 28));

    let upcoming = short_list(&service, 1).await;

    // The leapling (id 1) celebrates today: it ties with id 2 and, having the lower id, comes first.
    assert_eq!(ids(&upcoming), vec![1, 2, 4]);
}

/// A book with `per_day` birthdays on each day (month and day; born in 2000, a leap year), ids
/// numbered by day in the order given, then by position; its `with_birthday_on` answers from it
/// as PostgreSQL would.
fn book_of(per_day: &[(MonthDay, usize)]) -> Vec<(MonthDay, Contact)> {
    let mut id = 0;
    let mut book = Vec::new();
    for (md, n) in per_day {
        for _ in 0..*n {
            id += 1;
            book.push((*md, contact(id, date(2000, md.month, md.day))));
        }
    }
    book
}

/// One read: the days, `after`, `limit` (for the first read, `most`), and how many contacts it
/// answered.
type Read = (Vec<MonthDay>, Option<i64>, Option<i64>, usize);

/// A repository over `book` that records each read; its first read finds a long list and
/// counts the birthdays of `counted` (the book as it was a moment earlier).
fn repository_over(
    book: Vec<(MonthDay, Contact)>,
    counted: Vec<(MonthDay, Contact)>,
    reads: Arc<Mutex<Vec<Read>>>,
) -> MockContactRepository {
    let mut contacts = MockContactRepository::new();
    let on_days = book;
    let first_read = reads.clone();
    contacts.expect_with_birthday_on().returning(move |_, days, after, limit| {
        let found: Vec<Contact> = on_days
            .iter()
            .filter(|(md, c)| days.contains(md) && after.is_none_or(|a| c.id > a))
            .map(|(_, c)| c.clone())
            .take(limit.map_or(usize::MAX, |l| l as usize))
            .collect();
        reads.lock().unwrap().push((days.to_vec(), after.map(|a| a.0), limit, found.len()));
        Ok(found)
    });
    contacts.expect_birthdays_up_to().times(1).returning(move |_, days, most, _| {
        first_read.lock().unwrap().push((days.to_vec(), None, Some(most), 0));
        let mut counts: HashMap<MonthDay, i64> = HashMap::new();
        for (md, _) in counted.iter().filter(|(md, _)| days.contains(md)) {
            *counts.entry(*md).or_default() += 1;
        }
        assert!(counts.values().sum::<i64>() > most, "a long list");
        Ok(BirthdayProbe::Counted { counts: counts.into_iter().collect(), stamp: Some(BookStamp(3)) })
    });
    contacts
}

#[tokio::test]
async fn a_long_birthday_list_is_read_in_chunks_of_days_and_a_long_day_in_id_pages() {
    // 30 December 2025 + 3 days: 30 and 31 December, then 1 and 2 January. The ids run
    // against the celebration order (2 January's are the lowest) so sorting shows.
    let (dec30, dec31, jan1, jan2) = (md(12, 30), md(12, 31), md(1, 1), md(1, 2));
    let chunk = BIRTHDAY_CHUNK;
    let book = book_of(&[(jan2, 10), (jan1, chunk + chunk / 2), (dec31, chunk / 2), (dec30, chunk / 2)]);
    let reads = Arc::new(Mutex::new(Vec::new()));
    let repository = repository_over(book.clone(), book.clone(), reads.clone());
    let service = ContactService::new(repository, fixed_clock(2025, 12, 30));

    let (first, rest) = read(service.upcoming_birthdays(OWNER, 3, None).await.unwrap());
    let mut rest = rest.expect("a long list comes in chunks");
    let mut chunks = vec![first];
    while let Some(more) = service.more_birthdays(OWNER, &mut rest).await.unwrap() {
        chunks.push(more);
    }

    let id_of = |md: MonthDay| -> Vec<i64> { book.iter().filter(|(d, _)| *d == md).map(|(_, c)| c.id.0).collect() };
    let expected: Vec<i64> = [dec30, dec31, jan1, jan2].into_iter().flat_map(id_of).collect();
    assert_eq!(chunks.iter().flat_map(|c| ids(c)).collect::<Vec<_>>(), expected, "every birthday once, soonest first");
    assert!(chunks.iter().all(|c| c.len() <= chunk), "no chunk is longer than {chunk}");
    let window = vec![jan1, jan2, dec30, dec31];
    let last_of_first_page = id_of(jan1)[chunk - 1];
    assert_eq!(
        *reads.lock().unwrap(),
        vec![
            // The first read: more than a chunk, so only counted.
            (window, None, Some(chunk as i64), 0),
            // 30 and 31 December fill one chunk together.
            (vec![dec30, dec31], None, Some(chunk as i64 + 1), chunk),
            // 1 January alone is longer than a chunk: pages in id order.
            (vec![jan1], None, Some(chunk as i64), chunk),
            (vec![jan1], Some(last_of_first_page), Some(chunk as i64), chunk / 2),
            (vec![jan2], None, Some(chunk as i64 + 1), 10),
        ]
    );
}

/// Reads a whole long list: its chunks, each at most a chunk long.
async fn every_chunk(service: &Service, days: i64) -> Vec<Vec<Contact>> {
    let (first, rest) = read(service.upcoming_birthdays(OWNER, days, None).await.unwrap());
    let mut rest = rest.expect("a long list comes in chunks");
    let mut chunks = vec![first];
    while let Some(more) = service.more_birthdays(OWNER, &mut rest).await.unwrap() {
        chunks.push(more);
    }
    assert!(chunks.iter().all(|c| c.len() <= BIRTHDAY_CHUNK), "no chunk is longer than a chunk");
    chunks
}

#[tokio::test]
async fn birthday_days_read_together_that_grew_since_they_were_counted_are_read_one_day_at_a_time() {
    // 27 February 2025 + 2 days: the 27th, the 28th with the leaplings (29 February, a day of
    // its own in the book), and 1 March. Counted with 510 birthdays, but an import tripled the
    // days read together before they were read.
    let (feb28, feb29, mar1) = (md(2, 28), md(2, 29), md(3, 1));
    let chunk = BIRTHDAY_CHUNK;
    let counted = book_of(&[(feb29, 150), (feb28, 150), (mar1, 100), (md(2, 27), chunk + 10)]);
    let mut book = counted.clone();
    book.extend(book_of(&[(md(1, 1), 800), (feb29, 300), (feb28, 300), (mar1, 200)]).into_iter().map(|(d, mut c)| {
        c.id.0 += 10_000;
        (d, c)
    }));
    let reads = Arc::new(Mutex::new(Vec::new()));
    let service = ContactService::new(repository_over(book.clone(), counted, reads.clone()), fixed_clock(2025, 2, 27));

    let chunks = every_chunk(&service, 2).await;

    // The 27th (a long day), then the 28th and 29th as one day in id order, then 1 March.
    let on = |days: &[MonthDay]| -> Vec<i64> {
        let mut ids: Vec<i64> = book.iter().filter(|(d, _)| days.contains(d)).map(|(_, c)| c.id.0).collect();
        ids.sort();
        ids
    };
    let expected: Vec<i64> = [on(&[md(2, 27)]), on(&[feb28, feb29]), on(&[mar1])].concat();
    assert_eq!(chunks.iter().flat_map(|c| ids(c)).collect::<Vec<_>>(), expected, "every birthday once, soonest first");
    let reads = reads.lock().unwrap();
    let most = Some(chunk as i64 + 1);
    assert!(reads.contains(&(vec![feb28, feb29, mar1], None, most, chunk + 1)), "one read found more: {reads:?}");
    assert!(reads.iter().skip(1).all(|(.., found)| *found <= chunk + 1), "no read holds more than a chunk and one");
}

#[tokio::test]
async fn a_long_birthday_list_skips_days_whose_birthdays_went_since_they_were_counted() {
    // Counted with 2 × a chunk on 1 January and one on the 2nd; by the time the chunks are
    // read, 1 January's have gone.
    let (jan1, jan2) = (md(1, 1), md(1, 2));
    let mut contacts = MockContactRepository::new();
    let counts = vec![(jan1, 2 * BIRTHDAY_CHUNK as i64), (jan2, 1)];
    contacts
        .expect_birthdays_up_to()
        .times(1)
        .returning(move |_, _, _, _| Ok(BirthdayProbe::Counted { counts: counts.clone(), stamp: None }));
    contacts
        .expect_with_birthday_on()
        .withf(move |_, days, _, _| days == [jan1])
        .times(1)
        .returning(|_, _, _, _| Ok(Vec::new()));
    contacts
        .expect_with_birthday_on()
        .withf(move |_, days, _, _| days == [jan2])
        .times(1)
        .returning(|_, _, _, _| Ok(vec![contact(7, date(1990, 1, 2))]));
    let service = ContactService::new(contacts, fixed_clock(2026, 1, 1));

    let (first, rest) = read(service.upcoming_birthdays(OWNER, 1, None).await.unwrap());

    assert_eq!(ids(&first), vec![7]);
    assert_eq!(service.more_birthdays(OWNER, &mut rest.unwrap()).await.unwrap(), None);
}

#[tokio::test]
async fn list_refuses_nul_characters_in_filters_before_the_store() {
    let mut list = query(0, 10);
    list.filter.q = Some("a\0b".into());
    list.filter.email = Some("\0".into());
    let problems = problems_of(service(never_listing()).list_since(UserId(1), list, None).await);
    let fields: Vec<&str> = problems
        .iter()
        .map(|(field, rule)| {
            assert_eq!(*rule, "NulCharacters");
            field.as_str()
        })
        .collect();
    assert_eq!(fields, ["email", "q"]);
}

/// Three readable cards, as an import file gives them.
fn three_cards() -> Vec<(usize, Result<CardRecord, UnreadCard>)> {
    let card =
        |uid: &str| format!("BEGIN:VCARD\r\nVERSION:4.0\r\nUID:{uid}\r\nFN:A {uid}\r\nN:{uid};A;;;\r\nEND:VCARD\r\n");
    read_import(&format!("{}{}{}", card("a"), card("b"), card("c"))).unwrap()
}

#[tokio::test]
async fn an_unreachable_store_stops_the_import_without_retrying_card_by_card() {
    let mut contacts = MockContactRepository::new();
    // Once, for the whole batch: each retry would wait for a connection in vain.
    contacts.expect_import().times(1).returning(|_, _| Err(Error::Unavailable("connection refused".into())));

    let result = service(contacts).import(OWNER, three_cards()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
}

#[tokio::test]
async fn a_refused_batch_is_retried_card_by_card_until_the_store_is_unreachable() {
    let mut contacts = MockContactRepository::new();
    let calls = Arc::new(Mutex::new(Vec::new()));
    let seen = calls.clone();
    contacts.expect_import().returning(move |_, cards| {
        let uids: Vec<String> = cards.iter().map(|c| c.uid.clone()).collect();
        seen.lock().unwrap().push(uids.join(","));
        match uids.join(",").as_str() {
            "b" => Err(Error::Unavailable("connection refused".into())),
            "a" => Ok(vec![ImportOutcome::Created]),
            _ => Err(Error::unexpected("a bad card")),
        }
    });

    let result = service(contacts).import(OWNER, three_cards()).await;

    assert!(matches!(result, Err(Error::Unavailable(_))), "{result:?}");
    assert_eq!(*calls.lock().unwrap(), ["a,b,c", "a", "b"], "nothing is tried after the store is unreachable");
}

#[tokio::test]
async fn a_card_that_cannot_be_read_is_reported_with_the_uid_its_text_names() {
    let nameless = "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:nameless-\r\n 1\r\nORG:Acme\r\nEND:VCARD\r\n";
    let no_uid = "BEGIN:VCARD\r\nVERSION:3.0\r\nORG:Acme\r\nEND:VCARD\r\n";
    let read = read_import(&format!("{nameless}{no_uid}")).unwrap();
    let mut contacts = MockContactRepository::new();
    contacts.expect_import().never();

    let report = service(contacts).import(OWNER, read).await.unwrap();

    let uids: Vec<(usize, Option<&str>)> = report.failed.iter().map(|f| (f.index, f.uid.as_deref())).collect();
    assert_eq!(uids, [(0, Some("nameless-1")), (1, None)], "the folded UID unfolded; none where there is none");
    assert!(report.failed.iter().all(|f| f.detail == "Card has no name (N or FN)"), "{:?}", report.failed);
}

#[tokio::test]
async fn a_refused_batch_is_retried_card_by_card_and_a_bad_card_fails_alone() {
    let mut contacts = MockContactRepository::new();
    contacts.expect_import().returning(|_, cards| match cards {
        [one] if one.uid == "b" => Err(Error::unexpected("a bad card")),
        [_] => Ok(vec![ImportOutcome::Created]),
        _ => Err(Error::unexpected("the batch holds a bad card")),
    });

    let report = service(contacts).import(OWNER, three_cards()).await.unwrap();

    assert_eq!((report.created, report.updated), (2, 0));
    assert_eq!(
        report.failed,
        [ImportFailure { index: 1, uid: Some("b".into()), detail: "This card could not be stored".into() }]
    );
}
