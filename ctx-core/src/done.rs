//! Futures that complete when a context is done.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use crate::error::Error;
use crate::node::{CancelNode, Entry};
use crate::observe::ReachReport;
use crate::parked::{self, Registration, WakerIdentity};
use crate::request::ended_wait;
use crate::sync::Arc;
use crate::Context;

/// A waker's registration with a cancelable node, shared by every future
/// here. Registers on the first pending poll only, so a future that is
/// never pending (the common checked `.await`) costs the check alone.
///
/// A registration outlives its future: when the future is dropped it is
/// parked with the thread, and the next future polled there on the same
/// node takes it back (`parked.rs`), so a `done()` made, polled and dropped
/// in every turn of a `select!` loop registers once, not every turn.
#[derive(Default)]
struct Waiter {
    registered: Option<Registration>,
}

impl Waiter {
    // Inlined: on a done context (and in a loop that checks it) this is
    // one load; only registering is out of line.
    //
    // `at` is where the waiting future was made: a wait that ends because
    // its request had been answered is reported there (`request.rs`).
    #[inline]
    fn poll_done(
        &mut self,
        cancel_node: Option<&Arc<CancelNode>>,
        cx: &mut TaskContext<'_>,
        at: &'static Location<'static>,
    ) -> Poll<Error> {
        let Some(node) = cancel_node else {
            return Poll::Pending;
        };
        let done = match node.err() {
            Some(err) => self.finished(err),
            None => self.wait(node, cx),
        };
        done.map(|err| ended_wait(node, err, at))
    }

    /// Completes with `err`, the node being done. Cancellation took the
    /// registration's slot: nothing to park or free, and parking it would
    /// free the thread's previous one under that one's lock, for each of
    /// the many tasks a cancellation wakes at once.
    fn finished(&mut self, err: Error) -> Poll<Error> {
        self.registered = None;
        Poll::Ready(err)
    }

    /// Waits with the registration parked on this thread if it is
    /// `node`'s (a `select!` loop's previous turn left it), or with this
    /// future's own: as they are when the same task polls again, which is
    /// inlined; else registers anew or replaces the waker.
    #[inline]
    fn wait(&mut self, node: &Arc<CancelNode>, cx: &mut TaskContext<'_>) -> Poll<Error> {
        if self.registered.is_none() {
            self.registered = parked::take(node);
        }
        let waker = WakerIdentity::of(cx.waker());
        match &self.registered {
            Some(registered) if registered.waker == waker => Poll::Pending,
            _ => self.register(node, cx, waker),
        }
    }

    /// Registers the task's waker with `node`, or replaces the one
    /// registered if the future moved to another task.
    fn register(
        &mut self,
        node: &Arc<CancelNode>,
        cx: &mut TaskContext<'_>,
        waker: WakerIdentity,
    ) -> Poll<Error> {
        let result = match &mut self.registered {
            Some(registered) => {
                registered.waker = waker;
                node.rewake(registered.slot, cx.waker())
            }
            None => node
                .register(Entry::Waiter(cx.waker().clone()))
                .map(|slot| self.registered = Some(Registration::new(node, slot, waker)))
                .map_err(|refused| refused.err),
        };
        match result {
            Ok(()) => Poll::Pending,
            Err(err) => self.finished(err),
        }
    }

    /// Parks the registration, if any, with this thread.
    // Inlined: the common waiter was never registered, and releasing it is
    // a test of one word.
    #[inline]
    fn release(&mut self) {
        if let Some(registered) = self.registered.take() {
            parked::park(registered);
        }
    }
}

/// Completes with the context's [`Error`] once it is done. Returned by
/// [`Context::done`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (ctx, cancel) = ctx::Context::background().with_cancel();
/// cancel.cancel();
/// assert_eq!(ctx.done().await, ctx::Error::Canceled);
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct Done<'a> {
    ctx: &'a Context<'a>,
    waiter: Waiter,
    at: &'static Location<'static>,
}

impl<'a> Done<'a> {
    #[inline]
    #[track_caller]
    pub(crate) fn new(ctx: &'a Context<'a>) -> Self {
        Done {
            ctx,
            waiter: Waiter::default(),
            at: Location::caller(),
        }
    }
}

impl Drop for Done<'_> {
    #[inline]
    fn drop(&mut self) {
        self.waiter.release();
    }
}

impl Future for Done<'_> {
    type Output = Error;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Error> {
        let this = self.get_mut();
        this.waiter.poll_done(this.ctx.cancel_node(), cx, this.at)
    }
}

/// The owned form of [`Done`], holding its own clone of the context, so it
/// lives as long as the context's scope allows: `'static` for a root or a
/// [`without_cancel`](Context::without_cancel) context. Returned by
/// [`Context::done_owned`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (ctx, cancel) = ctx::Context::background().with_cancel();
/// let done: ctx::DoneOwned<'static> = ctx.done_owned();
/// drop(ctx);
/// cancel.cancel();
/// assert_eq!(done.await, ctx::Error::Canceled);
/// # }
/// ```
#[must_use = "futures do nothing unless polled"]
pub struct DoneOwned<'a> {
    ctx: Context<'a>,
    waiter: Waiter,
    at: &'static Location<'static>,
}

impl<'a> DoneOwned<'a> {
    #[track_caller]
    pub(crate) fn new(ctx: Context<'a>) -> Self {
        DoneOwned {
            ctx,
            waiter: Waiter::default(),
            at: Location::caller(),
        }
    }
}

impl Drop for DoneOwned<'_> {
    #[inline]
    fn drop(&mut self) {
        self.waiter.release();
    }
}

impl Future for DoneOwned<'_> {
    type Output = Error;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Error> {
        let this = self.get_mut();
        this.waiter.poll_done(this.ctx.cancel_node(), cx, this.at)
    }
}

pin_project! {
    /// A future raced against a context. Returned by [`Context::run`].
    ///
    /// Polls the context first, so a done context wins even against a ready
    /// future; when the context wins, the inner future is dropped with this
    /// one.
    ///
    /// With the `testing` feature, each `Run` is a cancellation point that
    /// `ctx::testing` can cancel the context at.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let ctx = ctx::Context::background();
    /// assert_eq!(ctx.run(async { "done" }).await, Ok("done"));
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    pub struct Run<'a, F> {
        ctx: &'a Context<'a>,
        #[pin]
        fut: F,
        waiter: Waiter,
        at: &'static Location<'static>,
        // Zero-sized without the `testing` feature.
        reach_report: ReachReport,
    }

    impl<F> PinnedDrop for Run<'_, F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            this.waiter.release();
        }
    }
}

impl<'a, F> Run<'a, F> {
    #[track_caller]
    pub(crate) fn new(ctx: &'a Context<'a>, fut: F) -> Self {
        Run::at(ctx, fut, Location::caller())
    }

    /// A race of `fut` against `ctx`, made on behalf of the code at `at`.
    pub(crate) fn at(ctx: &'a Context<'a>, fut: F, at: &'static Location<'static>) -> Self {
        Run {
            ctx,
            fut,
            waiter: Waiter::default(),
            at,
            reach_report: ReachReport::new(std::any::type_name::<F>()),
        }
    }
}

impl<F: Future> Future for Run<'_, F> {
    type Output = Result<F::Output, Error>;

    // Always inlined into the await it stands for: a checked await of a
    // ready future is then the check's loads and branches alone, with no
    // call; what only a pending or done context needs is out of line.
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // A test harness may cancel the context here, at the first poll.
        this.reach_report.reached(this.at);
        let cancel_node = this.ctx.cancel_node();
        if let Some(node) = cancel_node {
            if let Some(err) = node.check() {
                return Poll::Ready(Err(ended_wait(node, err, this.at)));
            }
        }
        if let Poll::Ready(output) = this.fut.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        this.waiter.poll_done(cancel_node, cx, this.at).map(Err)
    }
}

/// The check a `#[ctx_fn]` makes before it polls the work of an await its
/// whole-body race covers: the context's error, if it is done (or its
/// deadline has passed, see `clock.rs`), reported as a [`Run`]'s is when it
/// ended because its request had been answered.
#[inline]
#[track_caller]
pub fn check(ctx: &Context<'_>) -> Option<Error> {
    let node = ctx.cancel_node()?;
    let err = node.check()?;
    Some(ended_wait(node, err, Location::caller()))
}
