//! What a call of the tokio-postgres adapter fails with.

use std::fmt;

use crate::context_ended::ContextEnded;

/// The error of a [`Pool`](super::Pool), [`Client`](super::Client) or
/// [`Transaction`](super::Transaction) call.
///
/// ```
/// use ctx::postgres::Error;
///
/// let error = Error::from(ctx::Error::Canceled);
/// assert_eq!(error.context_error(), Some(ctx::Error::Canceled));
/// assert!(Error::Closed.to_string().contains("another connection"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The caller's context ended: before the call, while it waited for a
    /// connection, or while its statement ran (which was then cancelled on
    /// the server).
    Context(ContextEnded),
    /// No connection could be had from the pool.
    Pool(deadpool_postgres::PoolError),
    /// The database answered with an error, or the connection failed.
    Postgres(tokio_postgres::Error),
    /// This client's connection was handed back after a statement was
    /// cancelled or a transaction abandoned: it is being made clean (or
    /// discarded) off the caller's task. Get another from the pool.
    Closed,
}

impl Error {
    /// The context error this stands for, if any: what a handler returns to
    /// its caller (a 504 for a deadline, a 503 for a cancellation).
    ///
    /// ```
    /// assert_eq!(ctx::postgres::Error::Closed.context_error(), None);
    /// ```
    pub fn context_error(&self) -> Option<crate::Error> {
        match self {
            Error::Context(ended) => Some(ended.error),
            _ => None,
        }
    }
}

impl From<crate::Error> for Error {
    fn from(error: crate::Error) -> Error {
        Error::Context(error.into())
    }
}

impl From<ContextEnded> for Error {
    fn from(ended: ContextEnded) -> Error {
        Error::Context(ended)
    }
}

impl From<tokio_postgres::Error> for Error {
    fn from(error: tokio_postgres::Error) -> Error {
        Error::Postgres(error)
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(error: deadpool_postgres::PoolError) -> Error {
        Error::Pool(error)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Context(ended) => ended.fmt(f),
            Error::Pool(error) => write!(f, "no connection from the pool: {error}"),
            Error::Postgres(error) => match error.as_db_error() {
                // tokio-postgres says only "db error": the server's words.
                Some(db) => write!(f, "postgres: {db}"),
                None => write!(f, "postgres: {error}"),
            },
            Error::Closed => f.write_str(
                "this connection was handed back after a cancelled statement or an \
                 abandoned transaction; get another connection from the pool",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Context(ended) => Some(ended),
            Error::Pool(error) => Some(error),
            Error::Postgres(error) => Some(error),
            Error::Closed => None,
        }
    }
}
