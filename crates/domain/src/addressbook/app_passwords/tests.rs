use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use mockall::predicate::eq;

use super::*;
use crate::addressbook::MockAppPasswordStore;
use crate::clock::MockClock;

const ADA: UserId = UserId(7);

/// Ada as a request signed in with a token of version 3 reads her.
fn ada() -> User {
    User {
        id: ADA,
        username: "ada".into(),
        email: crate::email::EmailAddress::parse("email", "ada@example.org").unwrap(),
        avatar: None,
        role: crate::user::Role::User,
        confirmed: true,
        created_at: now(),
        token_version: 3,
        ended_sessions: Vec::new(),
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 9, 15, 0).unwrap()
}

fn fixed_clock() -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().return_const(now());
    clock
}

fn stored(id: i64, name: &str) -> AppPassword {
    AppPassword { id, name: name.to_owned(), created_at: now(), last_used_at: None }
}

/// A store that must not be called: validation failures never reach it.
fn untouched() -> AppPasswordService<MockAppPasswordStore, MockClock> {
    AppPasswordService::new(MockAppPasswordStore::new(), MockClock::new())
}

/// What a recording store's `insert` received: `(name, fingerprint)` per call.
type Inserts = Arc<Mutex<Vec<(String, String)>>>;

/// A store that keeps what `insert` receives and answers with id 1.
fn recording() -> (AppPasswordService<MockAppPasswordStore, MockClock>, Inserts) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut store = MockAppPasswordStore::new();
    let kept = seen.clone();
    store.expect_insert().withf(|owner, version, _, _| *owner == ADA && *version == 3).returning(
        move |_, _, name, fingerprint| {
            kept.lock().unwrap().push((name.to_owned(), fingerprint.to_owned()));
            Ok(Some(stored(1, name)))
        },
    );
    (AppPasswordService::new(store, MockClock::new()), seen)
}

fn field_of(error: Error) -> String {
    match error {
        Error::Invalid(problems) => problems.iter().map(|p| p.field()).collect::<Vec<_>>().join(","),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_secret_is_256_random_bits_kept_only_as_its_fingerprint() {
    let (service, seen) = recording();
    let first = service.create(&ada(), Some("  Ada's phone ".into())).await.unwrap();
    let second = service.create(&ada(), Some("laptop".into())).await.unwrap();

    assert_eq!(first.password, stored(1, "Ada's phone"), "the name is trimmed");
    assert_eq!(first.secret.len(), 43, "32 bytes in unpadded base64: {}", first.secret);
    assert!(first.secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "URL-safe");
    assert_ne!(first.secret, second.secret);
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0], ("Ada's phone".to_owned(), fingerprint(&first.secret)));
    assert_eq!(seen[1].1, fingerprint(&second.secret));
    assert!(seen.iter().all(|(_, f)| *f != first.secret && *f != second.secret), "the secret is never stored");
}

#[tokio::test]
async fn names_are_required_and_1_to_100_characters_after_trimming() {
    assert_eq!(field_of(untouched().create(&ada(), None).await.unwrap_err()), "name");
    assert_eq!(field_of(untouched().create(&ada(), Some("   ".into())).await.unwrap_err()), "name");
    assert_eq!(field_of(untouched().create(&ada(), Some("é".repeat(101))).await.unwrap_err()), "name");
    for control in ["pho\0ne", "pho\nne", "pho\tne", "pho\u{1b}ne", "pho\u{85}ne"] {
        let refused = untouched().create(&ada(), Some(control.into())).await.unwrap_err();
        let Error::Invalid(problems) = refused else { panic!("{control:?}: expected a validation error") };
        assert_eq!(problems[0].field(), "name", "{control:?}");
        assert_eq!(problems[0].rule, Rule::ControlCharacters { line_breaks_allowed: false }, "{control:?}");
    }

    let (service, seen) = recording();
    let longest = "é".repeat(MAX_NAME_CHARS);
    service.create(&ada(), Some(format!(" {longest} "))).await.expect("100 characters, counted as characters");
    assert_eq!(seen.lock().unwrap()[0].0, longest);
}

#[tokio::test]
async fn listing_and_revoking_are_the_owners_own() {
    let mut store = MockAppPasswordStore::new();
    store.expect_list().with(eq(ADA)).return_once(|_| Ok(vec![stored(1, "phone"), stored(2, "laptop")]));
    store.expect_delete().with(eq(ADA), eq(2)).return_once(|_, _| Ok(true));
    store.expect_delete().with(eq(ADA), eq(99)).return_once(|_, _| Ok(false));
    let service = AppPasswordService::new(store, MockClock::new());

    assert_eq!(service.list(ADA).await.unwrap(), vec![stored(1, "phone"), stored(2, "laptop")]);
    service.revoke(ADA, 2).await.unwrap();
    assert!(matches!(service.revoke(ADA, 99).await, Err(Error::NotFound("App password not found"))));
}

#[tokio::test]
async fn verify_looks_up_the_fingerprint_and_marks_the_use_now() {
    let mut store = MockAppPasswordStore::new();
    store
        .expect_verify()
        .with(eq("Ada@Example.org"), eq(fingerprint("s3cret")), eq(now()))
        .return_once(|_, _, _| Ok(Some((ADA, "ada".to_owned()))));
    store.expect_verify().with(eq("ada"), eq(fingerprint("wrong")), eq(now())).return_once(|_, _, _| Ok(None));
    let service = AppPasswordService::new(store, fixed_clock());

    assert_eq!(service.verify("Ada@Example.org", "s3cret").await.unwrap(), (ADA, "ada".to_owned()));
    assert!(matches!(service.verify("ada", "wrong").await, Err(Error::InvalidCredentials)));
}

#[tokio::test]
async fn empty_credentials_are_refused_without_a_lookup() {
    let service = untouched();
    assert!(matches!(service.verify("", "s3cret").await, Err(Error::InvalidCredentials)));
    assert!(matches!(service.verify("ada", "").await, Err(Error::InvalidCredentials)));
    assert!(matches!(service.verify("a\0da", "s3cret").await, Err(Error::InvalidCredentials)), "NUL never stored");
}

#[tokio::test]
async fn store_failures_pass_through() {
    let mut store = MockAppPasswordStore::new();
    store.expect_verify().return_once(|_, _, _| Err(Error::Unavailable("database down".into())));
    store.expect_insert().return_once(|_, _, _, _| Err(Error::Unavailable("database down".into())));
    let service = AppPasswordService::new(store, fixed_clock());
    assert!(matches!(service.verify("ada", "s3cret").await, Err(Error::Unavailable(_))));
    assert!(matches!(service.create(&ada(), Some("phone".into())).await, Err(Error::Unavailable(_))));
}

/// A reset that ended Ada's sessions while the request ran: nothing stored, so nothing shown.
#[tokio::test]
async fn a_session_ended_meanwhile_gets_no_password() {
    let mut store = MockAppPasswordStore::new();
    store.expect_insert().return_once(|_, _, _, _| Ok(None));
    let service = AppPasswordService::new(store, MockClock::new());
    assert!(matches!(service.create(&ada(), Some("phone".into())).await, Err(Error::Unauthenticated)));
}
