//! Fixtures shared by this crate's tests: a migrated throw-away database, valid domain inputs
//! built through their `parse` functions, and raw SQL for what the repositories cannot express.

use std::fmt::Debug;

use chrono::Utc;
use diesel::result::{DatabaseErrorKind, Error as DieselError, QueryResult};
use diesel_async::RunQueryDsl;

use contacts_domain::contact::{AdditionalInfo, Birthday, NewContact, PersonName, Phone};
use contacts_domain::user::{NewUser, PasswordHash, UserId, UserRepository, Username};
use contacts_domain::{EmailAddress, Error};
use contacts_test_support::TestDatabase;

use crate::{Database, PgUserRepository, run_migrations};

/// A stand-in bcrypt hash; the adapter stores it without looking inside.
pub(crate) const PASSWORD_HASH: &str = "$2b$04$C6UzMDM.H6dfI/f/IKxGhuR3bO7ZnkoD8BfYgXo3mhgBE3vTzCDGC";

/// A fresh database with every migration applied, and a pool on it. Keep the
/// [`TestDatabase`] alive for the whole test: dropping it drops the database.
pub(crate) async fn migrated_db() -> (TestDatabase, Database) {
    let test_db = TestDatabase::create().await;
    run_migrations(test_db.url()).await.expect("migrate the test database");
    let db = Database::connect_lazy(test_db.url(), 4).expect("configure the pool");
    (test_db, db)
}

/// A fresh migrated database, the store under test built on it, and two accounts (`ada` and
/// `grace`), so each test can check that one user never sees the other's rows.
pub(crate) struct TwoUsers<S> {
    /// Keeps the database alive for the test.
    pub(crate) test_db: TestDatabase,
    /// A pool on it, for raw SQL the store cannot express.
    pub(crate) db: Database,
    /// The store under test.
    pub(crate) store: S,
    /// The first account.
    pub(crate) ada: UserId,
    /// The second account.
    pub(crate) grace: UserId,
}

/// [`TwoUsers`] with the store `build` makes on the pool.
pub(crate) async fn two_users<S>(build: impl FnOnce(Database) -> S) -> TwoUsers<S> {
    let (test_db, db) = migrated_db().await;
    let ada = create_user(&db, "ada").await;
    let grace = create_user(&db, "grace").await;
    TwoUsers { store: build(db.clone()), test_db, db, ada, grace }
}

/// A valid email address.
pub(crate) fn email(raw: &str) -> EmailAddress {
    EmailAddress::parse("email", raw).expect("a valid email address")
}

/// The default avatar the fixtures give `username`.
pub(crate) fn avatar_of(username: &str) -> String {
    format!("https://www.gravatar.com/avatar/{username}?d=identicon")
}

/// A valid new account.
pub(crate) fn new_user(username: &str, email_address: &str) -> NewUser {
    NewUser {
        username: Username::parse(username).expect("a valid username"),
        email: email(email_address),
        password_hash: PasswordHash(PASSWORD_HASH.to_owned()),
        avatar: avatar_of(username),
    }
}

/// Stores the account `username` (email `<username>@example.com`) and returns its id.
pub(crate) async fn create_user(db: &Database, username: &str) -> UserId {
    let user = new_user(username, &format!("{username}@example.com"));
    PgUserRepository::new(db.clone()).create(user).await.expect("create a user").id
}

/// A valid first or last name (trimmed by the parser).
pub(crate) fn person_name(raw: &str) -> PersonName {
    PersonName::parse("first_name", raw).expect("a valid name")
}

/// A valid phone number.
pub(crate) fn phone(raw: &str) -> Phone {
    Phone::parse(raw).expect("a valid phone number")
}

/// A valid birthday, `YYYY-MM-DD`, not in the future.
pub(crate) fn birthday(raw: &str) -> Birthday {
    Birthday::parse(raw, Utc::now().date_naive()).expect("a valid birthday")
}

/// Valid notes.
pub(crate) fn info(raw: &str) -> AdditionalInfo {
    AdditionalInfo::parse(raw).expect("valid additional info")
}

/// A valid contact with a fixed phone and birthday and no notes; override fields with
/// struct update syntax.
pub(crate) fn new_contact(first_name: &str, last_name: &str, email_address: &str) -> NewContact {
    NewContact {
        first_name: person_name(first_name),
        last_name: person_name(last_name),
        email: email(email_address),
        phone: phone("+1 (555) 010-0100"),
        birthday: birthday("1990-05-17"),
        additional_info: None,
        emails: None,
        phones: None,
    }
}

/// Runs one raw SQL statement on a pooled connection.
pub(crate) async fn execute_sql(db: &Database, sql: &str) -> QueryResult<usize> {
    let mut conn = db.conn().await.expect("a connection");
    diesel::sql_query(sql).execute(&mut conn).await
}

/// Asserts that `result` failed on the database constraint `constraint` of the given kind.
pub(crate) fn assert_violates(result: QueryResult<usize>, kind: DatabaseErrorKind, constraint: &str) {
    match result {
        Err(DieselError::DatabaseError(actual, info)) => {
            assert_eq!(
                (actual, info.constraint_name()),
                (kind, Some(constraint)),
                "expected a {kind:?} of {constraint}, got {actual:?}: {}",
                info.message()
            );
        }
        other => panic!("expected a {kind:?} of {constraint}, got {other:?}"),
    }
}

/// Which rule an [`Error::Conflict`] names, or a panic naming what came instead.
pub(crate) fn expect_conflict<T: Debug>(result: Result<T, Error>) -> contacts_domain::Conflict {
    match result {
        Err(Error::Conflict(conflict)) => conflict,
        other => panic!("expected Error::Conflict, got {other:?}"),
    }
}
