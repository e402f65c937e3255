//! The `Context` handle.

use std::future::IntoFuture;
use std::marker::PhantomData;

use crate::after_func;
use crate::done::{Done, DoneOwned, Run};
use crate::error::{Cause, Error};
use crate::handle::{AfterFuncHandle, CancelCauseHandle, CancelHandle};
use crate::merge::MergeNode;
use crate::node::{CancelNode, Entry};
use crate::sync::Arc;
use crate::values::ValueNode;

use repr::{Repr, WithoutCancelNode};

mod deadlines;
mod display;
mod repr;

/// A request's cancellation signal, deadline and values, carried across API
/// boundaries and tasks: Go's `context.Context`.
///
/// A `Context` is a cheap handle (cloning it is one atomic increment) on an
/// immutable node of a tree. Each derivation (`with_cancel`, `with_timeout`,
/// `with_value`, `without_cancel`, ...) makes a child; cancelling a context
/// cancels its whole subtree and never its ancestors.
///
/// Who cancels: whoever holds the [`CancelHandle`] returned with a
/// cancelable context, or the context's deadline, or an ancestor's. Who
/// waits: anyone holding a clone, through [`done`](Context::done),
/// [`run`](Context::run), [`err`](Context::err) or
/// [`after_func`](Context::after_func).
///
/// # Request scope
///
/// A context you receive cannot outlive the call; [`without_cancel`] and
/// `#[detached]` are the way out.
///
/// The lifetime `'a` is the scope the context may be used in. Roots
/// ([`background`], [`todo`]) and [`without_cancel`] contexts are
/// `Context<'static>` and may go anywhere; every other derivation, and
/// every clone, keeps its parent's scope. A fn that takes `ctx: Context`
/// (the scope elided: "whatever scope my caller has") can read it, pass it
/// on and await work that holds it, but the compiler rejects moving it, a
/// clone, a child, or anything holding one into what must be `'static`:
/// `tokio::spawn` under any name or path, `spawn_blocking`, threads,
/// [`after_func`] closures, statics. That is the bug of work that outlives
/// the request it was handed, made a compile error:
///
/// ```compile_fail,E0521
/// use ctx::Context;
///
/// async fn publish(ctx: Context<'_>, message: String) { /* ... */ }
///
/// async fn handler(ctx: Context<'_>) {
///     // error[E0521]: borrowed data escapes outside of function:
///     // `ctx` escapes the function body here
///     tokio::spawn(publish(ctx.clone(), "done".to_owned()));
/// }
/// ```
///
/// Structured concurrency (`join!`, `select!`, `std::thread::scope`)
/// needs no `'static` and keeps working. Work that must outlive the call
/// takes [`without_cancel`] (the values, not the cancellation); work that
/// should end with the context goes through [`spawn`](Context::spawn).
/// Storing a context in a long-lived struct is explicit: a
/// `Context<'static>` field.
///
/// [`background`]: Context::background
/// [`todo`]: Context::todo
/// [`without_cancel`]: Context::without_cancel
/// [`after_func`]: Context::after_func
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ctx::{Context, Error};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(1));
///
/// // A slow operation, raced against the context.
/// let result = ctx.run(tokio::time::sleep(Duration::from_secs(5))).await;
/// assert_eq!(result, Err(Error::DeadlineExceeded));
/// # }
/// ```
pub struct Context<'a> {
    repr: Repr,
    /// The scope this context may be used in (see "Request scope" above):
    /// covariant and zero-sized, so it costs nothing at run time.
    scope: PhantomData<&'a ()>,
}

/// Cloning keeps the scope: a clone of a request's context is as bound to
/// the request as the original. One atomic increment at most.
impl<'a> Clone for Context<'a> {
    #[inline]
    fn clone(&self) -> Self {
        Context::from_repr(self.repr.clone())
    }
}

impl Context<'static> {
    /// The empty root context: never canceled, no deadline, no values.
    ///
    /// Use it in `main`, in initialization and in tests, as the top of a
    /// context tree. Code that serves a request must use the request's
    /// context instead (inside `#[ctx_fn]`, calling this is a compile error).
    /// It allocates nothing.
    ///
    /// ```
    /// let ctx = ctx::Context::background();
    /// assert_eq!(ctx.err(), None);
    /// assert_eq!(ctx.to_string(), "context.Background");
    /// ```
    #[doc(alias = "Background")]
    pub const fn background() -> Context<'static> {
        Context::from_repr(Repr::Background)
    }

    /// Like [`background`](Context::background), but says "a context
    /// belongs here and is not plumbed through yet". It allocates nothing.
    ///
    /// ```
    /// let ctx = ctx::Context::todo();
    /// assert_eq!(ctx.to_string(), "context.TODO");
    /// ```
    #[doc(alias = "TODO")]
    pub const fn todo() -> Context<'static> {
        Context::from_repr(Repr::Todo)
    }
}

impl<'a> Context<'a> {
    /// A child that is canceled when `handle.cancel()` is called or when
    /// this context is done, whichever comes first.
    ///
    /// Dropping the handle does not cancel: the child lives on for the work
    /// it was handed to, and its resources go with its last clone and its
    /// handle. Go's `defer cancel()` is
    /// [`handle.drop_guard()`](CancelHandle::drop_guard).
    ///
    /// ```
    /// use ctx::{Context, Error};
    ///
    /// let parent = Context::background();
    /// let (child, cancel) = parent.with_cancel();
    /// cancel.cancel();
    /// assert_eq!(child.err(), Some(Error::Canceled));
    /// assert_eq!(parent.err(), None, "cancellation never reaches ancestors");
    /// ```
    #[doc(alias = "WithCancel")]
    #[must_use = "this returns a new context and its cancel handle; the receiver is unchanged"]
    pub fn with_cancel(&self) -> (Context<'a>, CancelHandle) {
        let node = CancelNode::new(self, None, None);
        (Context::from_node(&node), CancelHandle::new(node))
    }

    /// Like [`with_cancel`](Context::with_cancel), but the handle cancels
    /// with a cause, which [`cause`](Context::cause) then reports on the
    /// child and all its descendants. Go's `WithCancelCause`.
    ///
    /// ```
    /// use ctx::{Context, Error};
    ///
    /// let (ctx, cancel) = Context::background().with_cancel_cause();
    /// cancel.cancel("upstream closed the stream");
    /// assert_eq!(ctx.err(), Some(Error::Canceled));
    /// assert_eq!(ctx.cause().unwrap().to_string(), "upstream closed the stream");
    /// ```
    #[doc(alias = "WithCancelCause")]
    #[must_use = "this returns a new context and its cancel handle; the receiver is unchanged"]
    pub fn with_cancel_cause(&self) -> (Context<'a>, CancelCauseHandle) {
        let (ctx, handle) = self.with_cancel();
        (ctx, CancelCauseHandle::new(handle))
    }

    /// A child that carries `value`, found by its type with
    /// [`value`](Context::value). A value of the same type set nearer
    /// shadows this one.
    ///
    /// Keys are types, so two libraries cannot collide: give each value its
    /// own newtype (`struct TraceId(String)`), as with `http::Extensions`.
    /// Values are for request-scoped data that crosses API boundaries (trace
    /// ids, the authenticated user), not for optional parameters.
    ///
    /// ```
    /// use ctx::Context;
    ///
    /// #[derive(Debug, PartialEq)]
    /// struct TraceId(&'static str);
    ///
    /// let ctx = Context::background().with_value(TraceId("4bf92f35"));
    /// assert_eq!(ctx.value::<TraceId>(), Some(&TraceId("4bf92f35")));
    /// assert_eq!(ctx.value::<String>(), None);
    /// ```
    #[must_use = "with_value returns a new context; the receiver is unchanged"]
    #[doc(alias = "WithValue")]
    pub fn with_value<T: Send + Sync + 'static>(&self, value: T) -> Context<'a> {
        Context::from_repr(Repr::Value(ValueNode::new(self, value)))
    }

    /// `with_value(first).with_value(second)` in one node.
    pub(crate) fn with_value_pair<A, B>(&self, first: A, second: B) -> Context<'a>
    where
        A: Send + Sync + 'static,
        B: Send + Sync + 'static,
    {
        Context::from_repr(Repr::Value(ValueNode::pair(self, first, second)))
    }

    /// The value of type `T` this context carries, if any. A lookup costs
    /// the same at any depth of the tree.
    ///
    /// ```
    /// use ctx::Context;
    ///
    /// struct UserId(u64);
    ///
    /// let ctx = Context::background().with_value(UserId(42));
    /// let (child, _cancel) = ctx.with_cancel();
    /// assert_eq!(child.value::<UserId>().map(|user| user.0), Some(42));
    /// ```
    #[doc(alias = "Value")]
    pub fn value<T: 'static>(&self) -> Option<&T> {
        self.values()?.get()
    }

    /// A child that keeps this context's values but none of its
    /// cancellation: it is never done, has no deadline and no cause, however
    /// this context ends. Go's `WithoutCancel`.
    ///
    /// This is what work that must outlive the request needs (a publish
    /// after the response): the request's trace id, without the request's
    /// end. It can be the parent of new cancelable contexts, for example
    /// to give that work a budget of its own.
    ///
    /// ```
    /// use ctx::Context;
    ///
    /// struct TraceId(u64);
    ///
    /// let (request, cancel) = Context::background().with_value(TraceId(7)).with_cancel();
    /// let detached = request.without_cancel();
    /// cancel.cancel();
    /// assert!(request.is_done());
    /// assert!(!detached.is_done());
    /// assert_eq!(detached.value::<TraceId>().map(|id| id.0), Some(7));
    /// ```
    #[must_use = "without_cancel returns a new context; the receiver is unchanged"]
    #[doc(alias = "WithoutCancel")]
    pub fn without_cancel(&self) -> Context<'static> {
        Context::from_repr(Repr::WithoutCancel(Arc::new(WithoutCancelNode {
            parent: self.erase(),
        })))
    }

    /// A context that is done as soon as this one or `other` is, or when
    /// its handle is cancelled (like
    /// [`with_cancel`](Context::with_cancel)'s). It has the earlier of the
    /// two deadlines, the error and [`cause`](Context::cause) of whichever
    /// ended first, and this context's values. Go's proposed `Merge`
    /// (golang/go#36503).
    ///
    /// What servers need it for: a request's context and the server's
    /// shutdown, a job's context and a user's cancel button. It costs no
    /// task: the merge is a child of this context that `other` cancels
    /// directly, and cancelling it, or dropping it and its handle, removes
    /// it from both, so a merge of two contexts that are never done leaves
    /// nothing behind.
    /// Cancelling the merge never touches either context.
    ///
    /// Its scope is the shorter of the two: a merge with a request's
    /// context is as bound to the request as the request's context is (see
    /// "Request scope" above).
    ///
    /// ```
    /// use ctx::{Context, Error};
    ///
    /// let (request, _end_request) = Context::background().with_value("trace-4bf9").with_cancel();
    /// let (server, shutdown) = Context::background().with_cancel_cause();
    ///
    /// let (ctx, _cancel) = request.merge(&server);
    /// assert_eq!(ctx.value::<&str>(), Some(&"trace-4bf9"), "values come from `request`");
    ///
    /// shutdown.cancel("server shutting down");
    /// assert_eq!(ctx.err(), Some(Error::Canceled));
    /// assert_eq!(ctx.cause().unwrap().to_string(), "server shutting down");
    /// assert_eq!(request.err(), None);
    /// assert_eq!(
    ///     ctx.to_string(),
    ///     "context.Background.WithValue(&str).WithCancel.Merge(context.Background.WithCancel)"
    /// );
    /// ```
    ///
    /// A merge with a request's context cannot escape the request:
    ///
    /// ```compile_fail,E0521
    /// use ctx::Context;
    ///
    /// fn watch(request: Context<'_>, server: &Context<'static>) {
    ///     let (ctx, cancel) = request.merge(server);
    ///     // error[E0521]: borrowed data escapes outside of function
    ///     tokio::spawn(async move {
    ///         let _cancel = cancel;
    ///         ctx.done().await
    ///     });
    /// }
    /// ```
    #[must_use = "this returns a new context and its cancel handle; the receiver is unchanged"]
    pub fn merge<'b, 'c>(&self, other: &Context<'b>) -> (Context<'c>, CancelHandle)
    where
        'a: 'c,
        'b: 'c,
    {
        let merged = MergeNode::new(self, other);
        let handle = CancelHandle::new(merged.node.clone());
        (Context::from_repr(Repr::Merge(Arc::new(merged))), handle)
    }

    /// Arranges for `f` to run once after this context is done. Go's
    /// `AfterFunc`.
    ///
    /// Like Go's, which starts `f` in a goroutine of its own, `f` never runs
    /// on the canceller's stack: it is handed to the blocking pool of the
    /// Tokio runtime current where the cancellation happens (the handle's
    /// caller, the runtime's deadline timer, or an ancestor's canceller), or
    /// to a thread of its own outside a runtime. So `cancel()` returns
    /// without waiting for `f`, and a slow or blocking `f` delays no other
    /// context, not even the other deadlines of its runtime. On a context
    /// that is already done, `f` is started at once, the same way. A panic
    /// in `f` is contained. On a context that can never be done (a
    /// `background()` or `without_cancel()` one), `f` never runs.
    ///
    /// [`AfterFuncHandle::stop`] unregisters `f`; dropping the handle leaves
    /// `f` registered.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use ctx::Context;
    ///
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let (closed, on_close) = mpsc::channel();
    /// let _handle = ctx.after_func(move || closed.send("connection closed").unwrap());
    /// cancel.cancel(); // returns at once: `f` runs on a thread of its own
    /// assert_eq!(on_close.recv_timeout(Duration::from_secs(10)), Ok("connection closed"));
    /// ```
    #[doc(alias = "AfterFunc")]
    pub fn after_func(&self, f: impl FnOnce() + Send + 'static) -> AfterFuncHandle {
        let Some(node) = self.cancel_node() else {
            return AfterFuncHandle::never_runs();
        };
        match node.register(Entry::AfterFunc(Box::new(f))) {
            Ok(slot) => AfterFuncHandle::registered(node.clone(), slot),
            Err(refused) => {
                if let Entry::AfterFunc(f) = refused.entry {
                    after_func::start(f);
                }
                AfterFuncHandle::already_started()
            }
        }
    }

    /// Why this context is done, or `None` while it is not. Go's `Err`.
    ///
    /// An atomic load or two, and a few more on a context nothing waits
    /// on, which learns of its ancestors' cancellation by looking at them;
    /// no lock, but for the first look after such a cancellation, which
    /// records it in the context (under its lock if it carries a cause).
    ///
    /// ```
    /// use ctx::{Context, Error};
    ///
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// assert_eq!(ctx.err(), None);
    /// cancel.cancel();
    /// assert_eq!(ctx.err(), Some(Error::Canceled));
    /// ```
    #[inline]
    #[doc(alias = "Err")]
    pub fn err(&self) -> Option<Error> {
        self.cancel_node().and_then(|node| node.err())
    }

    /// Whether this context is done: `err().is_some()`.
    ///
    /// ```
    /// let (ctx, cancel) = ctx::Context::background().with_cancel();
    /// cancel.cancel();
    /// assert!(ctx.is_done());
    /// ```
    #[inline]
    pub fn is_done(&self) -> bool {
        self.err().is_some()
    }

    /// Why this context was canceled: the cause given to the cancellation
    /// that reached it first, or its [`err`](Context::err) when that
    /// cancellation gave none; `None` while it is not done. Go's `Cause`.
    ///
    /// ```
    /// use ctx::{Context, Error};
    ///
    /// let (parent, cancel_parent) = Context::background().with_cancel_cause();
    /// let (child, _cancel_child) = parent.with_cancel();
    /// cancel_parent.cancel("client went away");
    /// assert_eq!(child.err(), Some(Error::Canceled));
    /// assert_eq!(child.cause().unwrap().to_string(), "client went away");
    /// ```
    #[doc(alias = "Cause")]
    pub fn cause(&self) -> Option<Cause> {
        self.cancel_node()?.cause()
    }

    /// A future that completes with [`err`](Context::err) once this context
    /// is done, and never if it cannot be. Go's `<-ctx.Done()`.
    ///
    /// Runtime-agnostic (it only uses the waker), cheap when already done,
    /// and cancel-safe. Made anew in every turn of a `select!` loop, it
    /// registers the task's waker once, not every turn: a `done()` dropped
    /// while this context is live leaves its registration with its thread,
    /// for the next `done()` polled there on this context to take back (from
    /// any task: its waker replaces the one registered). A thread keeps one
    /// such registration at most, and frees it when it keeps another, or
    /// exits; until then, a cancellation of this context from another thread
    /// wakes the task that left it, which may have stopped waiting (a
    /// spurious wake-up). A cancellation on that thread frees it unwoken.
    ///
    /// ```
    /// use ctx::{Context, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// tokio::spawn(async move { cancel.cancel() });
    /// assert_eq!(ctx.done().await, Error::Canceled);
    /// # }
    /// ```
    #[doc(alias = "Done")]
    #[inline]
    #[track_caller]
    pub fn done(&self) -> Done<'_> {
        Done::new(self)
    }

    /// Like [`done`](Context::done), but owns a clone of the context, so it
    /// is `'static` and can be moved into spawned tasks or stored.
    ///
    /// ```
    /// use ctx::{Context, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// let watcher = tokio::spawn(ctx.done_owned());
    /// cancel.cancel();
    /// assert_eq!(watcher.await.unwrap(), Error::Canceled);
    /// # }
    /// ```
    #[track_caller]
    pub fn done_owned(&self) -> DoneOwned<'a> {
        DoneOwned::new(self.clone())
    }

    /// Races `fut` against this context: `Ok` with its output if it
    /// finishes first, `Err` with the context's error if the context is done
    /// first, in which case `fut` is dropped (cancelled, in Rust's sense: no
    /// leaked work). The context is checked before `fut` is first polled.
    ///
    /// This is the race a `#[ctx_fn]` await makes after a shadowing
    /// derivation of its context, and, with the `testing` feature, a
    /// cancellation point of `ctx::testing` at the caller's location.
    ///
    /// ```
    /// use std::future::pending;
    /// use ctx::{Context, Error};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (ctx, cancel) = Context::background().with_cancel();
    /// assert_eq!(ctx.run(async { 1 + 1 }).await, Ok(2));
    ///
    /// tokio::spawn(async move { cancel.cancel() });
    /// assert_eq!(ctx.run(pending::<()>()).await, Err(Error::Canceled));
    /// # }
    /// ```
    #[track_caller]
    #[doc(alias = "select")]
    pub fn run<F: IntoFuture>(&self, fut: F) -> Run<'_, F::IntoFuture> {
        Run::new(self, fut.into_future())
    }
}
