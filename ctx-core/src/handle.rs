//! The handles that end a context, or a registration on one.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{into_cause, Cause, Error};
use crate::node::CancelNode;
use crate::sync::Arc;

/// Cancels the context it was returned with: explicitly with
/// [`cancel`](CancelHandle::cancel), or when dropped. Go's `CancelFunc`,
/// with `defer cancel()` built in.
///
/// Cancelling releases everything the context holds in its parent and its
/// timer. Only the first cancellation of a context counts; later calls do
/// nothing.
///
/// ```
/// use ctx::Context;
///
/// let parent = Context::background();
/// let child = {
///     let (child, _cancel) = parent.with_cancel();
///     child
/// }; // `_cancel` dropped here: the child is canceled
/// assert!(child.is_done());
/// ```
#[must_use = "dropping a CancelHandle cancels its context at once; bind it: `let (ctx, _cancel) = ...`"]
pub struct CancelHandle {
    /// `None` only while the handle is dropped, which takes the node to
    /// release it.
    node: Option<Arc<CancelNode>>,
}

impl CancelHandle {
    pub(crate) fn new(node: Arc<CancelNode>) -> Self {
        CancelHandle { node: Some(node) }
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

    fn cancel_with(&self, cause: Option<Cause>) {
        if let Some(node) = &self.node {
            node.cancel(Error::Canceled, cause);
        }
    }
}

impl Drop for CancelHandle {
    fn drop(&mut self) {
        if let Some(node) = self.node.take() {
            CancelNode::cancel_dropped(node);
        }
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("err", &self.node.as_ref().and_then(|node| node.err()))
            .finish()
    }
}

/// Cancels the context it was returned with, recording why. Go's
/// `CancelCauseFunc`. Dropping it cancels without a cause.
///
/// ```
/// use ctx::{Context, Error};
///
/// let (ctx, cancel) = Context::background().with_cancel_cause();
/// cancel.cancel(std::io::Error::other("broker unreachable"));
/// assert_eq!(ctx.err(), Some(Error::Canceled));
/// assert_eq!(ctx.cause().unwrap().to_string(), "broker unreachable");
/// ```
#[must_use = "dropping a CancelCauseHandle cancels its context at once; bind it: `let (ctx, _cancel) = ...`"]
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
