//! A context's end, as the database adapters report it: its error and the
//! cause it was given.

use std::fmt;

use crate::{Cause, Context, Error};

/// Why a database call ended early: the caller's context ended (its
/// [`Error`] and [`Cause`]), before the statement was sent or while it
/// ran. Shared by `ctx::postgres` and `ctx::sqlx`.
///
/// ```
/// # #[cfg(feature = "postgres")] {
/// use ctx::postgres::Error;
///
/// let error = Error::from(ctx::Error::DeadlineExceeded);
/// assert_eq!(error.context_error(), Some(ctx::Error::DeadlineExceeded));
/// assert_eq!(error.to_string(), "context deadline exceeded");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ContextEnded {
    /// The context's error.
    pub error: Error,
    /// The context's [`cause`](Context::cause), if one was given.
    pub cause: Option<Cause>,
}

impl ContextEnded {
    /// `ctx`'s error and cause, when it is done.
    pub(crate) fn of(ctx: &Context<'_>) -> Option<ContextEnded> {
        ctx.err().map(|error| ContextEnded::new(ctx, error))
    }

    /// `error`, with `ctx`'s cause.
    pub(crate) fn new(ctx: &Context<'_>, error: Error) -> ContextEnded {
        ContextEnded {
            error,
            cause: ctx.cause(),
        }
    }
}

impl From<Error> for ContextEnded {
    fn from(error: Error) -> ContextEnded {
        ContextEnded { error, cause: None }
    }
}

impl fmt::Display for ContextEnded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cause {
            Some(cause) => write!(f, "{} (cause: {cause})", self.error),
            None => self.error.fmt(f),
        }
    }
}

impl std::error::Error for ContextEnded {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}
