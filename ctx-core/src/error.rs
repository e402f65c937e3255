//! Why a context is done.

use std::fmt;
use std::io;
use std::sync::Arc;

/// The reason a context reports from [`Context::err`](crate::Context::err):
/// it was canceled, or its deadline passed.
///
/// The messages are Go's, so logs read the same in both languages. The
/// richer, caller-chosen reason is the context's [`Cause`].
///
/// # Examples
///
/// ```
/// use ctx::{Context, Error};
///
/// let (ctx, cancel) = Context::background().with_cancel();
/// cancel.cancel();
/// assert_eq!(ctx.err(), Some(Error::Canceled));
/// assert_eq!(Error::Canceled.to_string(), "context canceled");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// The context was canceled: by its cancel handle, or because an
    /// ancestor was.
    #[doc(alias = "Cancelled")]
    Canceled,
    /// The context's deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl Error {
    /// Whether this error means a deadline passed, the test `net.Error`'s
    /// `Timeout()` makes in Go.
    ///
    /// ```
    /// use ctx::Error;
    ///
    /// assert!(Error::DeadlineExceeded.is_timeout());
    /// assert!(!Error::Canceled.is_timeout());
    /// ```
    #[doc(alias = "Timeout")]
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::DeadlineExceeded)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for Error {}

/// A deadline becomes [`io::ErrorKind::TimedOut`]; a cancellation becomes
/// [`io::ErrorKind::Other`] (not `Interrupted`, which std's I/O helpers
/// retry). The [`Error`] stays reachable through `get_ref`.
///
/// ```
/// use std::io;
///
/// let err = io::Error::from(ctx::Error::DeadlineExceeded);
/// assert_eq!(err.kind(), io::ErrorKind::TimedOut);
/// assert_eq!(
///     err.get_ref().and_then(|e| e.downcast_ref::<ctx::Error>()),
///     Some(&ctx::Error::DeadlineExceeded)
/// );
/// ```
impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        let kind = if err.is_timeout() {
            io::ErrorKind::TimedOut
        } else {
            io::ErrorKind::Other
        };
        io::Error::new(kind, err)
    }
}

/// The caller-chosen reason a context was canceled, as set by
/// [`CancelCauseHandle::cancel`](crate::CancelCauseHandle::cancel) or
/// [`Context::with_deadline_cause`](crate::Context::with_deadline_cause).
///
/// Shared, so every descendant reports the same cause without copying it.
/// Downcast it to get your own error type back:
///
/// ```
/// use ctx::Context;
///
/// #[derive(Debug)]
/// struct Shutdown;
/// impl std::fmt::Display for Shutdown {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("server shutting down")
///     }
/// }
/// impl std::error::Error for Shutdown {}
///
/// let (ctx, cancel) = Context::background().with_cancel_cause();
/// cancel.cancel(Shutdown);
/// assert!(ctx.cause().unwrap().downcast_ref::<Shutdown>().is_some());
/// ```
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The [`Cause`] of a deadline context cancelled because the Tokio runtime
/// timing its deadline shut down before the deadline passed.
///
/// A deadline is fired by the timer of the runtime current where it was
/// derived. When that runtime shuts down first (or was shut down already,
/// its handle entered), the context cannot end at its deadline: it is
/// cancelled then instead, with [`Error::Canceled`] and this cause, so
/// work still waiting on it elsewhere (another runtime, a thread) stops
/// rather than waiting forever.
///
/// ```
/// use std::time::Duration;
/// use ctx::{Context, Error, RuntimeGone};
///
/// let runtime = tokio::runtime::Builder::new_current_thread()
///     .enable_time()
///     .build()
///     .unwrap();
/// let (ctx, _cancel) =
///     runtime.block_on(async { Context::background().with_timeout(Duration::from_secs(60)) });
/// drop(runtime);
///
/// assert_eq!(ctx.err(), Some(Error::Canceled));
/// let cause = ctx.cause().unwrap();
/// assert!(cause.downcast_ref::<RuntimeGone>().is_some());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RuntimeGone;

impl fmt::Display for RuntimeGone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "ctx: the Tokio runtime timing this context's deadline shut down before the \
             deadline passed",
        )
    }
}

impl std::error::Error for RuntimeGone {}

/// Turns anything a user may pass as a cause (an error, a `String`, a
/// `&str`) into a shared [`Cause`].
pub(crate) fn into_cause(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Cause {
    Arc::from(cause.into())
}
