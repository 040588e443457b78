//! [`IntoDomain`]: a query's rows as domain values, each converted with its `From` and a failure
//! mapped by [`query_error`], so every read ends the same one way.

use diesel::QueryResult;

use contacts_domain::Error;

use crate::error::query_error;

/// A query's result as domain values: `.load(..).await.into_domain()` for many rows,
/// `.first(..).await.optional().into_domain()` for one that may be missing.
pub(crate) trait IntoDomain<T> {
    /// Converts every row and maps a failure to the domain's error.
    fn into_domain(self) -> Result<T, Error>;
}

impl<Row, T: From<Row>> IntoDomain<Vec<T>> for QueryResult<Vec<Row>> {
    fn into_domain(self) -> Result<Vec<T>, Error> {
        self.map(|rows| rows.into_iter().map(T::from).collect()).map_err(query_error)
    }
}

impl<Row, T: From<Row>> IntoDomain<Option<T>> for QueryResult<Option<Row>> {
    fn into_domain(self) -> Result<Option<T>, Error> {
        self.map(|row| row.map(T::from)).map_err(query_error)
    }
}
