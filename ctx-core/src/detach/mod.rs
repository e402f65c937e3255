//! The runtime of `#[detached]`: work spawned with its caller's values but
//! not its cancellation, registered with the [`DetachedTracker`] its
//! context carries so shutdown can wait for it, and never failing silently
//! (see `outcome.rs`).

mod outcome;
mod tracker;

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::task::{JoinError, JoinHandle};

use crate::context::Context;
pub use outcome::{panic_message, DetachedOutcome};
use outcome::{Budget, Watch};
pub use tracker::{DetachedTracker, DrainReport};

/// The handle of a `#[detached]` call: await it for the work's result.
///
/// Dropping it does not cancel the work, which runs to completion (or to
/// its own `timeout`) either way; the [`DetachedTracker`] it registered
/// with waits for all of it at shutdown, and every failure, timeout or
/// panic of the work is logged and counted there, awaited or not.
///
/// It resolves to `Err` only if the work panicked (the panic is caught and
/// reported here, never taking the process down) or its runtime shut down
/// first.
///
/// ```
/// use ctx::{detached, Context, Error};
///
/// #[detached]
/// async fn audit(ctx: Context, event: &'static str) -> Result<usize, Error> {
///     Ok(event.len())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle: ctx::Detached<Result<usize, Error>> = audit(Context::background(), "login");
/// assert_eq!(handle.await.unwrap(), Ok(5));
/// # }
/// ```
pub struct Detached<T> {
    name: &'static str,
    handle: JoinHandle<T>,
}

impl<T> Detached<T> {
    /// Whether the work has finished, without waiting for it.
    ///
    /// ```
    /// use ctx::{detached, Context, Error};
    ///
    /// #[detached]
    /// async fn warm_cache(ctx: Context) -> Result<(), Error> {
    ///     tokio::task::yield_now().await;
    ///     Ok(())
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let handle = warm_cache(Context::background());
    /// assert!(!handle.is_finished(), "it has not been scheduled yet");
    /// handle.await.unwrap().unwrap();
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl<T> Future for Detached<T> {
    type Output = Result<T, DetachError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let name = self.name;
        Pin::new(&mut self.handle)
            .poll(cx)
            .map_err(|source| DetachError { name, source })
    }
}

impl<T> fmt::Debug for Detached<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detached")
            .field("name", &self.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a [`Detached`] handle has no result: the work panicked, or its
/// runtime shut down before it finished.
///
/// ```
/// use ctx::{detached, Context, Error};
///
/// #[detached]
/// async fn flaky(ctx: Context) -> Result<(), Error> {
///     panic!("broker client bug");
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let err = flaky(Context::background()).await.unwrap_err();
/// assert!(err.is_panic());
/// let payload = err.try_into_panic().unwrap();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"broker client bug"));
/// # }
/// ```
pub struct DetachError {
    name: &'static str,
    source: JoinError,
}

impl DetachError {
    /// Whether the work panicked.
    pub fn is_panic(&self) -> bool {
        self.source.is_panic()
    }

    /// The panic's payload, to resume it with
    /// [`std::panic::resume_unwind`]; `Err(self)` if the work did not
    /// panic.
    pub fn try_into_panic(self) -> Result<Box<dyn std::any::Any + Send + 'static>, Self> {
        let name = self.name;
        self.source
            .try_into_panic()
            .map_err(|source| DetachError { name, source })
    }
}

impl fmt::Display for DetachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.source.is_panic() {
            write!(f, "detached `{}` panicked", self.name)
        } else {
            write!(
                f,
                "detached `{}` was dropped unfinished: its runtime shut down",
                self.name
            )
        }
    }
}

impl fmt::Debug for DetachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetachError")
            .field("name", &self.name)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for DetachError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Spawns the body of a `#[detached]` fn, registered with the tracker
/// `parent` carries ([`DetachedTracker::of`]), on the current Tokio
/// runtime (panics, saying so, outside one). The body gets
/// `parent.without_cancel()`, cut short by `timeout` if given; its ending
/// is counted and, unless it finished, logged (`outcome.rs`). Its contract
/// with generated code is stated in the facade's `__private::detached`.
#[track_caller]
pub fn detach<T, F, Fut>(
    name: &'static str,
    parent: &Context<'_>,
    timeout: Option<Duration>,
    body: F,
) -> Detached<T>
where
    F: FnOnce(Context<'static>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: DetachedOutcome + Send + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        panic!(
            "`#[detached]` fn `{name}` was called outside a Tokio runtime: detached work is \
             spawned on Tokio, so call it from within one (e.g. under `#[tokio::main]`)"
        );
    };
    let tracker = DetachedTracker::of(parent).clone();
    let values = parent.without_cancel();
    let (ctx, budget) = match timeout {
        Some(timeout) => {
            // The budget ends the work; nothing else does (its handle's
            // drop does not cancel).
            let (ctx, _) = values.with_timeout(timeout);
            let budget = Budget {
                ctx: ctx.clone(),
                timeout,
            };
            (ctx, Some(budget))
        }
        None => (values, None),
    };
    let watch = Watch::new(name, tracker, budget);
    let work = AssertUnwindSafe(body(ctx)).catch_unwind();
    let task = async move {
        let outcome = work.await;
        watch.settle(&outcome);
        // A panic goes on to the handle, which reports it.
        outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    };
    // The work, and the log of how it ended, in the caller's span.
    #[cfg(feature = "tracing")]
    let task = tracing::Instrument::instrument(task, tracing::Span::current());
    Detached {
        name,
        handle: runtime.spawn(task),
    }
}
