//! The read model's one error type, classified here where the database is known: a failure
//! that retrying shortly may fix (unreachable, pool exhausted, SQLite busy or locked) or one
//! that it will not (a bug or a bad row); `baedal-db` knows which is which per dialect.

/// A read-model failure.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct Error(#[from] sqlx::Error);

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error(sqlx::Error::Migrate(Box::new(e)))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Unreachable, overloaded or locked: a dependency outage, worth retrying shortly.
    pub fn is_transient(&self) -> bool {
        baedal_db::is_transient(&self.0)
    }

    /// A row that does not decode as what the read model wrote.
    pub(crate) fn decode(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error(sqlx::Error::Decode(Box::new(e)))
    }

    /// The read model cannot answer now (its own machinery, not a statement, failed): worth
    /// retrying shortly.
    pub(crate) fn unavailable(what: &str) -> Self {
        Error(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            what.to_owned(),
        )))
    }

    /// A value that does not encode for a row.
    pub(crate) fn encode(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error(sqlx::Error::Encode(Box::new(e)))
    }
}

/// The api answers a read-model failure in the contract's error shape: 503 with Retry-After
/// for an outage, 500 for a bug. (The impl lives here because neither type is the api's.)
#[cfg(feature = "http")]
impl<C: baedal_http::ErrorCode> From<Error> for baedal_http::ApiError<C> {
    fn from(e: Error) -> Self {
        if e.is_transient() {
            baedal_http::ApiError::dependency_down("the read model", e)
        } else {
            baedal_http::ApiError::internal("the read model", e)
        }
    }
}
