//! What `ctx-macros`' `awaits.rs` generates: the races of a checked body's
//! awaits against the context, and of the whole body.
//!
//! A checked body (a `#[ctx_fn]`'s, a `#[detached]` task's) races its
//! context in two layers:
//!
//! - every `.await` the macro can see becomes
//!   `match race(&ctx, fut).await { Ok(out) => out, Err(err) => return __bail(err) }`,
//!   `ctx` being the context's name as it resolves where the await stands
//!   (so a shadowing `let (ctx, _c) = ctx.with_timeout(..)` is honoured),
//!   or the body's hygienic clone of it ([`clone_context`], taken again by
//!   [`reclone`] where the body assigns the name) when the body moves its
//!   context. [`race`] checks before it polls, so a loop of always-ready
//!   awaits stops at the next one;
//! - a body that calls a macro (whose expansion may hide awaits:
//!   `tokio::select!`, `join!`) is also raced as a whole by [`race_body`],
//!   which registers with the context once, on the first pending poll; its
//!   visible awaits then only [`check`] the context before they poll,
//!   except after a shadowing derivation, which the whole-body race does
//!   not watch.
//!
//! The whole-body race lets the body run on while its [`Shield`] is held
//! (see `uncancelable.rs`).

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use ctx_core::{Context, Done, Error, Run};
use pin_project_lite::pin_project;

use super::uncancelable::Shield;

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

/// One checked `.await`: races `fut` against the context `ctx` names,
/// checking it before the first poll.
#[inline(always)]
#[track_caller]
pub fn race<'c, 'a: 'c, C: AsContext<'a> + ?Sized, F: IntoFuture>(
    ctx: &'c C,
    fut: F,
) -> Run<'c, F::IntoFuture> {
    ctx.as_context().run(fut)
}

/// One checked `.await` under the whole-body race: `Some` error when the
/// context `ctx` names is done (or its deadline has passed), before the
/// awaited future is polled. With the `testing` feature, a cancellation
/// point of `ctx::testing`.
#[inline(always)]
#[track_caller]
pub fn check<'a, C: AsContext<'a> + ?Sized>(ctx: &C) -> Option<Error> {
    #[cfg(feature = "testing")]
    ctx_core::testing::reached();
    ctx_core::__private::check(ctx.as_context())
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

/// Races a whole checked body against its context, except while `shield`
/// is raised; also the race of one await inside a body whose async blocks
/// hold an `#[uncancelable]` statement.
pub fn race_body<'c, F: Future>(
    ctx: &'c Context<'c>,
    shield: &'c Shield,
    body: F,
) -> BodyRace<'c, F> {
    BodyRace {
        done: ctx.done(),
        ctx,
        shield,
        body,
    }
}

pin_project! {
    /// The future of [`race_body`].
    #[must_use = "futures do nothing unless polled"]
    pub struct BodyRace<'c, F> {
        ctx: &'c Context<'c>,
        shield: &'c Shield,
        #[pin]
        done: Done<'c>,
        #[pin]
        body: F,
    }
}

impl<F: Future> Future for BodyRace<'_, F> {
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
