//! The doors for work that ends with a context: [`Context::spawn`] and
//! [`Context::stream`].
//!
//! Both run work past the call that starts it (a task, a response body
//! streamed after the handler returned), so the work cannot hold the
//! caller's `Context<'a>`. It is handed a child instead, through a closure
//! that is generic over the child's scope (`for<'s> FnOnce(Context<'s>)`):
//! the work can read the child, pass it on and await under it, but cannot
//! move it into anything that must be `'static` (a `tokio::spawn`, a
//! static, a `'static` channel), because its scope is no particular
//! lifetime. The door itself keeps the context, erased, for exactly as long
//! as the work runs, and ends the work when the context is done: that is
//! what makes the erasure sound.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use futures_util::Stream;
use tokio::task::{JoinError, JoinHandle};

use crate::done::DoneOwned;
use crate::error::Error;
use crate::Context;

/// The boxed future of work started by [`Context::spawn`]: it may hold the
/// child context it was given, for that child's scope `'s`. Make one with
/// `Box::pin(async move { .. })`.
pub type ScopedFuture<'s, T> = Pin<Box<dyn Future<Output = T> + Send + 's>>;

/// The boxed stream of a [`Context::stream`]: it may hold the child context
/// it was given, for that child's scope `'s`. Make one with `Box::pin(..)`.
pub type ScopedStream<'s, T> = Pin<Box<dyn Stream<Item = T> + Send + 's>>;

impl<'a> Context<'a> {
    /// Spawns work on Tokio that ends with this context: `work` gets a
    /// child that is canceled when this context is, and the task is raced
    /// against it, so the work is dropped at its next `.await` once the
    /// context is done, and the child is cancelled when the work ends. Go's
    /// `go handle(ctx, conn)`, made structured.
    ///
    /// This is the visible door for work that should *not* outlive the
    /// context (a server's per-connection tasks, parallel sub-work of a
    /// request). The child's scope is the closure's own (`for<'s>`), so the
    /// work cannot stash it or hand it to another spawner; for work that
    /// must outlive the context, use [`without_cancel`](Context::without_cancel)
    /// or `#[detached]` instead.
    ///
    /// The handle resolves to `Ok` with the work's output, or `Err` with
    /// the context's error if the context was done first. Dropping the
    /// handle does not stop the work; the context does.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, with a message that says so.
    ///
    /// ```
    /// use std::future::pending;
    /// use ctx::{Context, Error};
    ///
    /// async fn accept_loop(ctx: Context<'_>) -> Vec<Result<u32, Error>> {
    ///     let quick = ctx.spawn(|_conn_ctx| Box::pin(async { 7 }));
    ///     let stuck = ctx.spawn(|conn_ctx| Box::pin(async move {
    ///         conn_ctx.done().await;
    ///         pending::<u32>().await
    ///     }));
    ///     let first = quick.await.unwrap();
    ///     vec![first, stuck.await.unwrap()]
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (server, shutdown) = Context::background().with_cancel();
    /// let results = tokio::spawn(async move { accept_loop(server).await });
    /// tokio::task::yield_now().await;
    /// shutdown.cancel(); // the stuck connection ends with the server
    /// assert_eq!(results.await.unwrap(), vec![Ok(7), Err(Error::Canceled)]);
    /// # }
    /// ```
    ///
    /// The child cannot be moved out of the work:
    ///
    /// ```compile_fail,E0521
    /// use ctx::Context;
    ///
    /// fn stash(ctx: Context<'_>) {
    ///     let _handle = ctx.spawn(|child| Box::pin(async move {
    ///         // error: borrowed data escapes outside of closure
    ///         tokio::spawn(async move { child.done().await });
    ///     }));
    /// }
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&self, work: F) -> SpawnHandle<T>
    where
        F: for<'s> FnOnce(Context<'s>) -> ScopedFuture<'s, T>,
        T: Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            panic!(
                "ctx: `Context::spawn` needs a Tokio runtime and none is running on this thread; \
                 call it from within one (e.g. under `#[tokio::main]`)"
            );
        };
        let at = Location::caller();
        let (child, cancel) = self.with_cancel();
        let child = child.erase();
        let work = work(child.clone());
        let task = runtime.spawn(async move {
            // Ends the child, and so any work it started, when the work
            // ends, however it ends.
            let _guard = cancel.drop_guard();
            child.run_at(work, at).await
        });
        SpawnHandle { task }
    }

    /// A stream that ends with this context: `make` gets a child (whose
    /// scope is the closure's own, as [`spawn`](Context::spawn)'s) and
    /// gives the stream that uses it, which is polled until this context is
    /// done. Then the stream is dropped, and the returned one yields the
    /// context's error once (as `E`), and ends.
    ///
    /// This is the door for a response body or server-sent events that use
    /// the request's context while they stream, after the handler returned:
    /// the body runs under a live context (which ends once its last frame
    /// is sent), and stops when the client leaves or the server shuts down.
    /// The error item makes the server abort the response rather than end
    /// it as if it were complete.
    ///
    /// ```
    /// use futures_util::{stream, StreamExt};
    /// use ctx::{Context, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let mut ticks = ctx.stream(|ctx| {
    ///     Box::pin(stream::iter(0..).then(move |n| {
    ///         let ctx = ctx.clone();
    ///         async move { ctx.run(async move { n }).await }
    ///     }))
    /// });
    /// assert_eq!(ticks.next().await, Some(Ok(0)));
    /// assert_eq!(ticks.next().await, Some(Ok(1)));
    /// cancel.cancel();
    /// assert_eq!(ticks.next().await, Some(Err(Error::Canceled)));
    /// assert_eq!(ticks.next().await, None);
    /// # }
    /// ```
    #[track_caller]
    pub fn stream<F, T, E>(&self, make: F) -> ContextStream<T, E>
    where
        F: for<'s> FnOnce(Context<'s>) -> ScopedStream<'s, Result<T, E>>,
        E: From<Error>,
    {
        let ctx = self.erase();
        let inner = make(ctx.clone());
        ContextStream {
            inner: Some(inner),
            done: ctx.done_owned(),
        }
    }

    /// [`run`](Context::run), as if called at `at`.
    fn run_at<F: Future>(&self, fut: F, at: &'static Location<'static>) -> crate::Run<'_, F> {
        crate::Run::at(self, fut, at)
    }
}

/// The handle of work started by [`Context::spawn`]: resolves to the
/// work's output, or the context's error if the context was done first
/// (in Tokio's `Result`, whose `Err` says the task panicked or was
/// aborted). Dropping it does not stop the work; the context does.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let ctx = ctx::Context::background();
/// let handle = ctx.spawn(|_ctx| Box::pin(async { "done" }));
/// assert_eq!(handle.await.unwrap(), Ok("done"));
/// # }
/// ```
#[must_use = "the work runs on without its handle, and its output and failure are lost: await the handle"]
pub struct SpawnHandle<T> {
    task: JoinHandle<Result<T, Error>>,
}

impl<T> SpawnHandle<T> {
    /// Whether the work has ended.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let handle = ctx::Context::background().spawn(|_ctx| Box::pin(async {}));
    /// assert!(!handle.is_finished(), "not polled yet on this one thread");
    /// handle.await.unwrap().unwrap();
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

impl<T> Future for SpawnHandle<T> {
    type Output = Result<Result<T, Error>, JoinError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task).poll(cx)
    }
}

impl<T> fmt::Debug for SpawnHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpawnHandle")
            .field("finished", &self.task.is_finished())
            .finish()
    }
}

/// The stream of [`Context::stream`]: the inner stream's items while the
/// context is live, then the context's error once, then the end.
#[must_use = "streams do nothing unless polled"]
pub struct ContextStream<T, E> {
    /// `None` once the context is done or the inner stream has ended.
    inner: Option<ScopedStream<'static, Result<T, E>>>,
    /// The context the stream ends with; it also keeps it alive.
    done: DoneOwned<'static>,
}

impl<T, E: From<Error>> Stream for ContextStream<T, E> {
    type Item = Result<T, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(err) = Pin::new(&mut this.done).poll(cx) {
            this.inner = None;
            return Poll::Ready(Some(Err(E::from(err))));
        }
        let next = inner.as_mut().poll_next(cx);
        if let Poll::Ready(None) = next {
            this.inner = None;
        }
        next
    }
}

impl<T, E> fmt::Debug for ContextStream<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextStream")
            .field("ended", &self.inner.is_none())
            .finish()
    }
}
