//! The handles that end a context, or a registration on one.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{into_cause, Cause, Error};
use crate::node::CancelNode;
use crate::sync::Arc;

/// Cancels the context it was returned with. Go's `CancelFunc`.
///
/// Only [`cancel`](CancelHandle::cancel) cancels: dropping the handle does
/// not, so a context is never ended behind the back of the work it was
/// handed to (`let (ctx, _) = parent.with_timeout(d)` lives until its
/// deadline or its parent's end). Go's `defer cancel()` is
/// [`drop_guard`](CancelHandle::drop_guard), for a context that must end
/// with the block that made it. Nothing leaks either way: a context's place in its parent
/// and its timer are released when its last clone and its handle are gone,
/// cancelled or not.
///
/// Only the first cancellation of a context counts; later calls do
/// nothing.
///
/// ```
/// use ctx::Context;
///
/// let parent = Context::background();
/// let child = {
///     let (child, _cancel) = parent.with_cancel();
///     child
/// }; // `_cancel` dropped here: the child lives on
/// assert!(!child.is_done());
///
/// let (child, cancel) = parent.with_cancel();
/// cancel.cancel();
/// assert!(child.is_done());
/// ```
pub struct CancelHandle {
    node: Arc<CancelNode>,
}

impl CancelHandle {
    pub(crate) fn new(node: Arc<CancelNode>) -> Self {
        CancelHandle { node }
    }

    /// Cancels the context, and every context derived from it, with
    /// [`Error::Canceled`]. Does nothing if it is already done.
    ///
    /// ```
    /// let (ctx, cancel) = ctx::Context::background().with_cancel();
    /// cancel.cancel();
    /// cancel.cancel(); // no effect
    /// assert_eq!(ctx.err(), Some(ctx::Error::Canceled));
    /// ```
    pub fn cancel(&self) {
        self.cancel_with(None);
    }

    /// A guard that cancels the context when it is dropped, however the
    /// block that holds it ends (return, `?`, panic, a dropped future).
    /// Go's `defer cancel()`.
    ///
    /// ```
    /// use ctx::{Context, Error};
    ///
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// {
    ///     let _guard = cancel.drop_guard();
    ///     assert!(!ctx.is_done());
    /// } // the guard cancels here
    /// assert_eq!(ctx.err(), Some(Error::Canceled));
    /// ```
    #[must_use = "the guard cancels the context when dropped: bind it, `let _guard = cancel.drop_guard();`"]
    pub fn drop_guard(self) -> CancelGuard {
        CancelGuard { handle: Some(self) }
    }

    /// Cancels with `cause` if one is given: what a cause handle does, and
    /// what the crate's own handles do with a cause known in advance.
    pub(crate) fn cancel_with(&self, cause: Option<Cause>) {
        self.node.cancel(Error::Canceled, cause);
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("err", &self.node.err())
            .finish()
    }
}

/// Cancels its context when dropped: Go's `defer cancel()`, made by
/// [`CancelHandle::drop_guard`] or [`CancelCauseHandle::drop_guard`].
///
/// ```
/// use ctx::Context;
///
/// async fn lookup(ctx: Context<'_>) -> Result<u32, ctx::Error> {
///     let (ctx, cancel) = ctx.with_cancel();
///     let _guard = cancel.drop_guard(); // whatever happens below, `ctx` ends here
///     ctx.run(async { 7 }).await
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(lookup(Context::background()).await, Ok(7));
/// # }
/// ```
#[derive(Debug)]
#[must_use = "the guard cancels the context when dropped: bind it, `let _guard = cancel.drop_guard();`"]
pub struct CancelGuard {
    /// `None` only once disarmed.
    handle: Option<CancelHandle>,
}

impl CancelGuard {
    /// Gives back the handle without cancelling: the context then lives
    /// on until something else ends it.
    ///
    /// ```
    /// let (ctx, cancel) = ctx::Context::background().with_cancel();
    /// let guard = cancel.drop_guard();
    /// let cancel = guard.disarm();
    /// assert!(!ctx.is_done());
    /// cancel.cancel();
    /// assert!(ctx.is_done());
    /// ```
    pub fn disarm(mut self) -> CancelHandle {
        self.handle
            .take()
            .expect("a guard holds its handle until disarmed")
    }
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.cancel();
        }
    }
}

/// Cancels the context it was returned with, recording why. Go's
/// `CancelCauseFunc`. Like [`CancelHandle`], dropping it does not cancel.
///
/// ```
/// use ctx::{Context, Error};
///
/// let (ctx, cancel) = Context::background().with_cancel_cause();
/// cancel.cancel(std::io::Error::other("broker unreachable"));
/// assert_eq!(ctx.err(), Some(Error::Canceled));
/// assert_eq!(ctx.cause().unwrap().to_string(), "broker unreachable");
/// ```
#[derive(Debug)]
pub struct CancelCauseHandle {
    handle: CancelHandle,
}

impl CancelCauseHandle {
    pub(crate) fn new(handle: CancelHandle) -> Self {
        CancelCauseHandle { handle }
    }

    /// Cancels the context and its descendants with [`Error::Canceled`],
    /// and `cause` as their [`cause`](crate::Context::cause). Does nothing
    /// if the context is already done: the first cause sticks.
    ///
    /// ```
    /// let (ctx, cancel) = ctx::Context::background().with_cancel_cause();
    /// cancel.cancel("first");
    /// cancel.cancel("second");
    /// assert_eq!(ctx.cause().unwrap().to_string(), "first");
    /// ```
    pub fn cancel(&self, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) {
        self.handle.cancel_with(Some(into_cause(cause)));
    }

    /// A guard that cancels the context, without a cause, when dropped;
    /// an explicit [`cancel`](CancelCauseHandle::cancel) before that
    /// keeps its cause (the first cancellation wins).
    ///
    /// ```
    /// let (ctx, cancel) = ctx::Context::background().with_cancel_cause();
    /// drop(cancel.drop_guard());
    /// assert_eq!(ctx.err(), Some(ctx::Error::Canceled));
    /// ```
    #[must_use = "the guard cancels the context when dropped: bind it, `let _guard = cancel.drop_guard();`"]
    pub fn drop_guard(self) -> CancelGuard {
        self.handle.drop_guard()
    }
}

/// Unregisters a function scheduled by
/// [`Context::after_func`](crate::Context::after_func). Dropping it leaves
/// the function registered.
///
/// ```
/// let (ctx, cancel) = ctx::Context::background().with_cancel();
/// let handle = ctx.after_func(|| unreachable!("stopped before the cancel"));
/// assert!(handle.stop());
/// cancel.cancel();
/// ```
#[derive(Debug)]
pub struct AfterFuncHandle {
    registration: Option<(Arc<CancelNode>, u32)>,
    /// Set by the first `stop`, or from the start when the function was
    /// started at once: only the first `stop` can report a prevented run.
    settled: AtomicBool,
}

impl AfterFuncHandle {
    pub(crate) fn registered(node: Arc<CancelNode>, slot: u32) -> Self {
        AfterFuncHandle {
            registration: Some((node, slot)),
            settled: AtomicBool::new(false),
        }
    }

    pub(crate) fn never_runs() -> Self {
        AfterFuncHandle {
            registration: None,
            settled: AtomicBool::new(false),
        }
    }

    pub(crate) fn already_started() -> Self {
        AfterFuncHandle {
            registration: None,
            settled: AtomicBool::new(true),
        }
    }

    /// Unregisters the function. Returns `true` if this call prevented it
    /// from running; `false` if the context is done and the function has
    /// been started on its own thread (it may still be running: `stop` does
    /// not wait for it), or if `stop` was called before. Go's `stop` of
    /// `AfterFunc`.
    ///
    /// ```
    /// let (ctx, cancel) = ctx::Context::background().with_cancel();
    /// let handle = ctx.after_func(|| {});
    /// cancel.cancel();
    /// assert!(!handle.stop(), "the function has been started");
    /// ```
    pub fn stop(&self) -> bool {
        if self.settled.swap(true, Ordering::AcqRel) {
            return false;
        }
        match &self.registration {
            Some((node, slot)) => node.deregister(*slot),
            None => true,
        }
    }
}
