//! What a checked `.await` costs.
//!
//! `ReadyAwait`: an async fn awaiting an immediately ready future, polled
//! to completion once per iteration with a no-op waker, in four forms over
//! the same live cancelable context:
//! - `plain`: no check;
//! - `run`: `ctx.run(fut).await`, which is what `#[ctx_fn]` expands each
//!   await to;
//! - `ctx_fn`: a real `#[ctx_fn]` (entry check, then the checked await,
//!   which borrows the context: no clone);
//! - `plain_by_value` / `ctx_fn_by_value`: the same two taking the context
//!   by value, as handlers do; both calls clone it, so their difference is
//!   `#[ctx_fn]`'s whole per-call cost;
//! - `tokio_util_select`: `tokio::select!` (biased) on a token's
//!   `cancelled()`, the hand-written tokio-util equivalent.
//!
//! `ReadyAwaitX100`: the same with 100 awaits in one call, so the per-call
//! costs (entry check, clone) are spread and the difference divided by 100
//! is the cost of one checked await.
//!
//! `PendingOnce`: the awaited future is pending once (it wakes itself) then
//! ready, so the race registers a waker with the context and removes it:
//! `run` against `tokio::select!` on `token.cancelled()`.

#![allow(missing_docs, non_snake_case)]

use std::future::{ready, Future};
use std::pin::{pin, Pin};
use std::task::{Context as TaskContext, Poll, Waker};

use ctx::{ctx_fn, Context, Error};
use divan::{black_box, Bencher};
use tokio_util::sync::CancellationToken;

fn main() {
    divan::main();
}

/// Polls `fut` to completion with a no-op waker.
#[inline]
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = TaskContext::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Pending on its first poll (after waking its task), ready on the second:
/// the shortest future that takes the pending path.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<u64> {
        if self.0 {
            Poll::Ready(1)
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

fn live() -> (Context<'static>, ctx::CancelHandle) {
    Context::background().with_cancel()
}

#[inline(never)]
async fn plain(_ctx: &Context<'_>, x: u64) -> Result<u64, Error> {
    Ok(ready(black_box(x)).await)
}

#[inline(never)]
async fn run(ctx: &Context<'_>, x: u64) -> Result<u64, Error> {
    ctx.run(ready(black_box(x))).await
}

#[ctx_fn]
#[inline(never)]
async fn checked(ctx: &Context<'_>, x: u64) -> Result<u64, Error> {
    Ok(ready(black_box(x)).await)
}

/// By value, as handlers take their context: `plain_owned` and
/// `checked_owned` differ only by `#[ctx_fn]`, so the difference is its
/// per-call cost (entry check, parameter checks, shield) plus one checked
/// await.
#[inline(never)]
async fn plain_owned(_ctx: Context<'_>, x: u64) -> Result<u64, Error> {
    Ok(ready(black_box(x)).await)
}

#[ctx_fn]
#[inline(never)]
async fn checked_owned(ctx: Context, x: u64) -> Result<u64, Error> {
    Ok(ready(black_box(x)).await)
}

#[ctx_fn]
#[inline(never)]
async fn checked_pending(ctx: &Context<'_>) -> Result<u64, Error> {
    Ok(YieldOnce(false).await)
}

#[inline(never)]
async fn select(token: &CancellationToken, x: u64) -> Result<u64, Error> {
    tokio::select! {
        biased;
        _ = token.cancelled() => Err(Error::Canceled),
        x = ready(black_box(x)) => Ok(x),
    }
}

mod ReadyAwait {
    use super::*;

    #[divan::bench]
    fn plain(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(super::plain(black_box(&ctx), 1)));
    }

    #[divan::bench]
    fn run(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(super::run(black_box(&ctx), 1)));
    }

    #[divan::bench]
    fn ctx_fn(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(checked(black_box(&ctx), 1)));
    }

    #[divan::bench]
    fn plain_by_value(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(plain_owned(black_box(&ctx).clone(), 1)));
    }

    #[divan::bench]
    fn ctx_fn_by_value(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(checked_owned(black_box(&ctx).clone(), 1)));
    }

    #[divan::bench]
    fn tokio_util_select(bencher: Bencher) {
        let token = CancellationToken::new();
        bencher.bench_local(|| block_on(select(black_box(&token), 1)));
    }
}

#[inline(never)]
async fn plain_x100(_ctx: &Context<'_>) -> Result<u64, Error> {
    let mut sum = 0;
    for i in 0..100 {
        sum += ready(black_box(i)).await;
    }
    Ok(sum)
}

#[inline(never)]
async fn run_x100(ctx: &Context<'_>) -> Result<u64, Error> {
    let mut sum = 0;
    for i in 0..100 {
        sum += ctx.run(ready(black_box(i))).await?;
    }
    Ok(sum)
}

#[ctx_fn]
#[inline(never)]
async fn checked_x100(ctx: &Context<'_>) -> Result<u64, Error> {
    let mut sum = 0;
    for i in 0..100 {
        sum += ready(black_box(i)).await;
    }
    Ok(sum)
}

#[inline(never)]
async fn select_x100(token: &CancellationToken) -> Result<u64, Error> {
    let mut sum = 0;
    for i in 0..100 {
        sum += tokio::select! {
            biased;
            _ = token.cancelled() => return Err(Error::Canceled),
            x = ready(black_box(i)) => x,
        };
    }
    Ok(sum)
}

mod ReadyAwaitX100 {
    use super::*;

    #[divan::bench]
    fn plain(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(plain_x100(black_box(&ctx))));
    }

    #[divan::bench]
    fn run(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(run_x100(black_box(&ctx))));
    }

    #[divan::bench]
    fn ctx_fn(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(checked_x100(black_box(&ctx))));
    }

    #[divan::bench]
    fn tokio_util_select(bencher: Bencher) {
        let token = CancellationToken::new();
        bencher.bench_local(|| block_on(select_x100(black_box(&token))));
    }
}

mod PendingOnce {
    use super::*;

    #[divan::bench]
    fn plain(bencher: Bencher) {
        bencher.bench_local(|| block_on(black_box(YieldOnce(false))));
    }

    #[divan::bench]
    fn run(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(black_box(&ctx).run(black_box(YieldOnce(false)))));
    }

    #[divan::bench]
    fn ctx_fn(bencher: Bencher) {
        let (ctx, _cancel) = live();
        bencher.bench_local(|| block_on(checked_pending(black_box(&ctx))));
    }

    #[divan::bench]
    fn tokio_util_select(bencher: Bencher) {
        let token = CancellationToken::new();
        bencher.bench_local(|| {
            block_on(async {
                tokio::select! {
                    biased;
                    _ = black_box(&token).cancelled() => 0,
                    x = black_box(YieldOnce(false)) => x,
                }
            })
        });
    }
}
