//! The runtime side of `#[ctx_fn]`'s checked awaits, named by generated
//! code through `__private` only.
//!
//! A `#[ctx_fn]` body is checked in two layers:
//!
//! - every `.await` the macro can see races the context in scope where it
//!   stands ([`checkpoint`], which checks before it polls, so a loop of
//!   always-ready awaits stops at the next one, and honours a shadowing
//!   `let (ctx, _c) = ctx.with_timeout(..)`);
//! - a body that calls a macro (whose expansion may hide awaits:
//!   `tokio::select!`, `join!`) is also raced as a whole ([`guard`]), which
//!   registers with the context once, on the first pending poll; its
//!   visible awaits then only [`check`] the context before they poll,
//!   except after a shadowing derivation, which the guard does not watch.
//!
//! `#[uncancelable]` statements raise a [`Shield`] while they run: the
//! whole-body race does not drop the body meanwhile.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context as TaskContext, Poll};

use ctx_core::{Context, Done, Error, Run};
use pin_project_lite::pin_project;

/// What an `.await` in a `#[ctx_fn]` races: the `ctx` in scope there.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `ctx::Context`, but the `.await`s of this `#[ctx_fn]` race the context parameter's name in scope",
    label = "here the context parameter's name is shadowed by a `{Self}`",
    note = "rename the binding that shadows the context parameter, or shadow it only with another context (e.g. `let (ctx, _cancel) = ctx.with_timeout(..)`)"
)]
pub trait AsContext<'a> {
    /// The context, keeping its own scope (not the borrow's), so a clone of
    /// it outlives the borrow.
    fn as_context(&self) -> &Context<'a>;
}

impl<'a> AsContext<'a> for Context<'a> {
    #[inline(always)]
    fn as_context(&self) -> &Context<'a> {
        self
    }
}

impl<'a, C: AsContext<'a> + ?Sized> AsContext<'a> for &C {
    #[inline(always)]
    fn as_context(&self) -> &Context<'a> {
        (**self).as_context()
    }
}

/// One checked `.await`: races `fut` against the context `ctx` names.
#[inline(always)]
#[track_caller]
pub fn checkpoint<'c, 'a: 'c, C: AsContext<'a> + ?Sized, F: IntoFuture>(
    ctx: &'c C,
    fut: F,
) -> Run<'c, F::IntoFuture> {
    ctx.as_context().run(fut)
}

/// One checked `.await` under the fn's guard: `Some` error when the
/// context `ctx` names is done (or its deadline has passed), before the
/// awaited future is polled. With the `testing` feature, a cancellation
/// point of `ctx::testing`.
#[inline(always)]
#[track_caller]
pub fn check<'a, C: AsContext<'a> + ?Sized>(ctx: &C) -> Option<Error> {
    #[cfg(feature = "testing")]
    ctx_core::testing::reached();
    ctx_core::__checked::check(ctx.as_context())
}

/// A clone of the context `ctx` names, for the races of a body that moves
/// its context.
#[inline(always)]
pub fn clone_context<'a, C: AsContext<'a> + ?Sized>(ctx: &C) -> Context<'a> {
    ctx.as_context().clone()
}

/// Takes a clone of the context `ctx` names into `slot`: the races of a
/// body that moves its context, after the body assigns the context's name.
#[inline(always)]
pub fn reclone<'a, C: AsContext<'a> + ?Sized>(slot: &mut Context<'a>, ctx: &C) {
    *slot = ctx.as_context().clone();
}

/// Raised while an `#[uncancelable]` statement runs, so the whole-body race
/// lets it finish.
///
/// Only ever touched by the one task polling the fn, so relaxed loads and
/// stores suffice; it is atomic only to keep the fn's future `Send`.
#[derive(Debug)]
pub struct Shield(AtomicU32);

impl Default for Shield {
    #[inline(always)]
    fn default() -> Self {
        Shield(AtomicU32::new(0))
    }
}

impl Shield {
    /// Raises the shield until the guard is dropped.
    #[inline]
    pub fn hold(&self) -> ShieldGuard<'_> {
        self.0
            .store(self.0.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        ShieldGuard(self)
    }

    #[inline(always)]
    fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }
}

/// Lowers its [`Shield`] when dropped, however the statement ends.
#[must_use = "the shield is lowered when the guard is dropped"]
#[derive(Debug)]
pub struct ShieldGuard<'s>(&'s Shield);

impl Drop for ShieldGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        let shield = &self.0 .0;
        shield.store(shield.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
    }
}

/// Races a whole `#[ctx_fn]` body against its context, except while
/// `shield` is raised.
pub fn guard<'c, F: Future>(ctx: &'c Context<'c>, shield: &'c Shield, body: F) -> Guard<'c, F> {
    Guard {
        done: ctx.done(),
        ctx,
        shield,
        body,
    }
}

pin_project! {
    /// The future of [`guard`].
    #[must_use = "futures do nothing unless polled"]
    pub struct Guard<'c, F> {
        ctx: &'c Context<'c>,
        shield: &'c Shield,
        #[pin]
        done: Done<'c>,
        #[pin]
        body: F,
    }
}

impl<F: Future> Future for Guard<'_, F> {
    type Output = Result<F::Output, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if !this.shield.is_raised() {
            if let Some(err) = this.ctx.err() {
                return Poll::Ready(Err(err));
            }
        }
        if let Poll::Ready(output) = this.body.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if this.shield.is_raised() {
            // The statement in flight must finish; its own wake-ups bring
            // the body back, and the next poll checks the context again.
            return Poll::Pending;
        }
        this.done.poll(cx).map(Err)
    }
}

/// What an argument of a `#[detached]` fn must be: the work takes it to
/// another thread, for as long as it runs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be moved into `#[detached]` work: its arguments must be `Send + 'static`",
    label = "the detached work runs on another thread, after its caller returns",
    note = "pass an owned, thread-safe value instead (e.g. `Arc<..>` rather than `Rc<..>`, `String` rather than `&str`)"
)]
pub trait DetachArg: Send + 'static {}

impl<T: Send + 'static> DetachArg for T {}

/// Checks, at compile time and at the argument, that `#[detached]` work
/// can take it.
#[inline(always)]
pub fn detach_arg<T: DetachArg>(_: &T) {}

/// The type of a parameter `#[ctx_fn]` took for the context by its name.
#[diagnostic::on_unimplemented(
    message = "`#[ctx_fn]` took this parameter for the context, but `{Self}` is not `ctx::Context`",
    label = "a parameter whose type is named `Context` is taken for the context",
    note = "write the other type by its path (e.g. `opentelemetry::Context`) to pass it as an ordinary parameter; `#[ctx_fn]` then inserts `ctx: ctx::Context` first"
)]
pub trait ContextParam {}

impl ContextParam for Context<'_> {}
impl ContextParam for &Context<'_> {}

/// Checks, at compile time, that a parameter taken for the context is one.
#[inline(always)]
pub fn context_param<C: ContextParam>(_: &C) {}

/// Probes a parameter's type for being a context under another name (a
/// type alias): [`Probe::not_a_context`] resolves to the inherent fn for a
/// context, whose bound fails with a message, and to [`NotAContext`]'s
/// for every other type.
pub struct Probe<T: ?Sized>(std::marker::PhantomData<T>);

/// The fallback of [`Probe::not_a_context`]: the type is not a context.
pub trait NotAContext {
    /// Nothing to report.
    #[inline(always)]
    fn not_a_context() {}
}

impl<T: ?Sized> NotAContext for Probe<T> {}

/// Never implemented: a context reached through another name.
#[diagnostic::on_unimplemented(
    message = "this parameter is a `ctx::Context` under another name, and `#[ctx_fn]` finds the context by the name `Context`",
    label = "a context, but not named `Context`",
    note = "write its type as `Context` (or `ctx::Context`) and put it first, so `#[ctx_fn]` uses it instead of inserting a second context"
)]
pub trait ContextUnderAnotherName {}

impl<'a> Probe<Context<'a>> {
    /// Fails to compile: see [`ContextUnderAnotherName`].
    pub fn not_a_context()
    where
        Self: ContextUnderAnotherName,
    {
    }
}

impl<'a, 'b> Probe<&'b Context<'a>> {
    /// Fails to compile: see [`ContextUnderAnotherName`].
    pub fn not_a_context()
    where
        Self: ContextUnderAnotherName,
    {
    }
}
