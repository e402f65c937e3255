//! What a call of the sqlx adapter fails with.

use std::fmt;

use crate::context_ended::ContextEnded;

/// The error of a [`Pool`](super::Pool), [`Conn`](super::Conn) or
/// [`Transaction`](super::Transaction) call.
///
/// ```
/// use ctx::sqlx::Error;
///
/// let error = Error::from(ctx::Error::DeadlineExceeded);
/// assert_eq!(error.context_error(), Some(ctx::Error::DeadlineExceeded));
/// assert!(Error::Closed.to_string().contains("another connection"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The caller's context ended: before the call, while it waited for a
    /// connection, or while its statement ran (which was then ended on the
    /// server).
    Context(ContextEnded),
    /// sqlx failed: the database refused the statement, the pool had no
    /// connection to give, or the connection broke.
    Sqlx(::sqlx::Error),
    /// This connection was discarded after a cancelled statement: get
    /// another from the pool.
    Closed,
}

impl Error {
    /// The context error this stands for, if any: what a handler returns to
    /// its caller (a 504 for a deadline, a 503 for a cancellation).
    ///
    /// ```
    /// assert_eq!(ctx::sqlx::Error::Closed.context_error(), None);
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

impl From<::sqlx::Error> for Error {
    fn from(error: ::sqlx::Error) -> Error {
        Error::Sqlx(error)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Context(ended) => ended.fmt(f),
            Error::Sqlx(error) => write!(f, "sqlx: {error}"),
            Error::Closed => f.write_str(
                "this connection was discarded after a cancelled statement; \
                 get another connection from the pool",
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Context(ended) => Some(ended),
            Error::Sqlx(error) => Some(error),
            Error::Closed => None,
        }
    }
}
