//! Translation of diesel and pool failures into domain errors: the only place that knows which
//! constraint means what to a client.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;

use contacts_domain::{Conflict, Error};

/// How PostgreSQL begins the message it sends to a session it ends (SQLSTATE 57P01, 57P02):
/// the server is stopping or restarting, not the query at fault.
const TERMINATED: &str = "terminating connection";

/// Maps a failed query. Unique violations become the [`Conflict`] their index enforces, a
/// card's missing book [`Error::NotFound`]; a lost
/// connection (closed, or terminated by the server as it shuts down) means the database is
/// unavailable; everything else is unexpected.
pub(crate) fn query_error(error: DieselError) -> Error {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => match info.constraint_name() {
            Some("users_email_key") => Error::Conflict(Conflict::EmailTaken),
            Some("users_username_key") => Error::Conflict(Conflict::UsernameTaken),
            Some("contacts_user_email_key") => Error::Conflict(Conflict::ContactEmailTaken),
            Some("contacts_book_uid_key") => Error::Conflict(Conflict::CardUidTaken),
            _ => Error::unexpected(error),
        },
        // A card written into a book deleted meanwhile (its id read before the delete
        // committed): the book is gone, as if it had been gone before.
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info)
            if matches!(info.constraint_name(), Some("contacts_book_id_fkey" | "card_changes_book_id_fkey")) =>
        {
            Error::NotFound("Address book not found")
        }
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _)
        | DieselError::BrokenTransactionManager => Error::Unavailable(Box::new(error)),
        // SQLSTATE class 57P (admin shutdown, crash shutdown) reaches us as `Unknown`: the driver
        // keeps the code to itself, the server's message is all that tells it apart.
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info) if info.message().starts_with(TERMINATED) => {
            Error::Unavailable(Box::new(error))
        }
        _ => Error::unexpected(error),
    }
}

/// Maps a failure to get a connection: PostgreSQL is down, slow or refusing us.
pub(crate) fn pool_error(error: PoolError) -> Error {
    Error::Unavailable(Box::new(error))
}
