//! A context's deadline: the derivations that set one, and what it says.

use std::time::Duration;

use tokio::time::Instant;

use crate::deadline::{self, Requested};
use crate::error::{into_cause, Cause};
use crate::handle::CancelHandle;

use super::Context;

impl<'a> Context<'a> {
    /// A child that is done with
    /// [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded) at
    /// `deadline`, or earlier like a [`with_cancel`](Context::with_cancel)
    /// child.
    ///
    /// A child's deadline never extends its parent's: if this context's
    /// deadline is no later, the child is a plain cancelable child that keeps
    /// it. A deadline already past makes the child done at once. Any other
    /// deadline, however far, is the child's, and ends it when it passes.
    ///
    /// # Panics
    ///
    /// A deadline in the future needs tokio's timer: this panics, saying so,
    /// when called outside a Tokio runtime or in one built without
    /// `enable_time`. A past deadline or no deadline needs no runtime.
    ///
    /// # Runtime shutdown
    ///
    /// The deadline is timed by the runtime current here. If that runtime
    /// shuts down before the deadline passes, the context cannot keep its
    /// promise to end then, and is cancelled at once instead, with
    /// [`Error::Canceled`](crate::Error::Canceled) and the cause
    /// [`RuntimeGone`](crate::RuntimeGone): work under it elsewhere
    /// (another runtime, a thread) stops rather than waiting forever for a
    /// timer that is gone. The same holds for a
    /// deadline derived while entered in the handle of a runtime that
    /// already shut down. Neither panics.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::{Context, Error, Instant};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let deadline = Instant::now() + Duration::from_millis(50);
    /// let (ctx, _cancel) = Context::background().with_deadline(deadline);
    /// assert_eq!(ctx.deadline(), Some(deadline));
    /// assert_eq!(ctx.done().await, Error::DeadlineExceeded);
    /// # }
    /// ```
    #[doc(alias = "WithDeadline")]
    #[must_use = "this returns a new context and its cancel handle; the receiver is unchanged"]
    pub fn with_deadline(&self, deadline: Instant) -> (Context<'a>, CancelHandle) {
        self.derive_deadline(Requested::At(deadline), None)
    }

    /// Like [`with_deadline`](Context::with_deadline), but when the deadline
    /// passes, [`cause`](Context::cause) reports `cause`. Cancelling through
    /// the handle does not set it. Go's `WithDeadlineCause`.
    ///
    /// # Panics
    ///
    /// As [`with_deadline`](Context::with_deadline).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::{Context, Instant};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let deadline = Instant::now() + Duration::from_millis(50);
    /// let (ctx, _cancel) = Context::background().with_deadline_cause(deadline, "payment provider too slow");
    /// ctx.done().await;
    /// assert_eq!(ctx.cause().unwrap().to_string(), "payment provider too slow");
    /// # }
    /// ```
    #[doc(alias = "WithDeadlineCause")]
    #[must_use = "this returns a new context and its cancel handle; the receiver is unchanged"]
    pub fn with_deadline_cause(
        &self,
        deadline: Instant,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> (Context<'a>, CancelHandle) {
        self.derive_deadline(Requested::At(deadline), Some(into_cause(cause)))
    }

    /// [`with_deadline`](Context::with_deadline) at now + `timeout`. A
    /// timeout too large to represent as an instant (`Duration::MAX`) is no
    /// deadline: the child is a plain cancelable child, whose
    /// [`deadline`](Context::deadline) is its parent's, and which never
    /// expires by itself.
    ///
    /// # Panics
    ///
    /// As [`with_deadline`](Context::with_deadline).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::{Context, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(50));
    /// assert_eq!(ctx.done().await, Error::DeadlineExceeded);
    ///
    /// let (forever, _cancel) = Context::background().with_timeout(Duration::MAX);
    /// assert_eq!(forever.deadline(), None);
    /// # }
    /// ```
    #[doc(alias = "WithTimeout")]
    #[must_use = "this returns a new context and its cancel handle; the receiver is unchanged"]
    pub fn with_timeout(&self, timeout: Duration) -> (Context<'a>, CancelHandle) {
        self.derive_deadline(Requested::After(timeout), None)
    }

    /// [`with_deadline_cause`](Context::with_deadline_cause) at now +
    /// `timeout`.
    ///
    /// # Panics
    ///
    /// As [`with_deadline`](Context::with_deadline).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::Context;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let (ctx, _cancel) = Context::background().with_timeout_cause(Duration::from_millis(50), "search budget spent");
    /// ctx.done().await;
    /// assert_eq!(ctx.cause().unwrap().to_string(), "search budget spent");
    /// # }
    /// ```
    #[doc(alias = "WithTimeoutCause")]
    #[must_use = "this returns a new context and its cancel handle; the receiver is unchanged"]
    pub fn with_timeout_cause(
        &self,
        timeout: Duration,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> (Context<'a>, CancelHandle) {
        self.derive_deadline(Requested::After(timeout), Some(into_cause(cause)))
    }

    /// The child of the `with_deadline` and `with_timeout` family: its node
    /// as [`deadline::child`] decides.
    fn derive_deadline(
        &self,
        requested: Requested,
        cause: Option<Cause>,
    ) -> (Context<'a>, CancelHandle) {
        let node = deadline::child(self, requested, cause);
        (Context::from_node(&node), CancelHandle::new(node))
    }

    /// When this context will be done by itself, if ever: the earliest
    /// deadline on its path from the root. Go's `Deadline`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::Context;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let (short, _c1) = Context::background().with_timeout(Duration::from_secs(1));
    /// let (long, _c2) = short.with_timeout(Duration::from_secs(10));
    /// assert_eq!(long.deadline(), short.deadline(), "a child never extends its parent's deadline");
    /// # }
    /// ```
    #[doc(alias = "Deadline")]
    pub fn deadline(&self) -> Option<Instant> {
        self.cancel_node()?.deadline()
    }

    /// The time left before this context's [`deadline`](Context::deadline):
    /// `None` without a deadline, [`Duration::ZERO`] once it has passed
    /// (even before the deadline's timer ends the context). The budget to
    /// give a call made under this context, or to write on a request sent
    /// for it.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::Context;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// assert_eq!(Context::background().remaining(), None);
    ///
    /// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(2));
    /// assert_eq!(ctx.remaining(), Some(Duration::from_secs(2)), "the clock is paused");
    /// tokio::time::sleep(Duration::from_secs(3)).await;
    /// assert_eq!(ctx.remaining(), Some(Duration::ZERO));
    /// # }
    /// ```
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline().map(deadline::remaining_until)
    }
}
