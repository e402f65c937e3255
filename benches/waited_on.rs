//! A context's `done()` polled once and dropped: a turn of a `select!`
//! loop's `done()` branch, and what leaves a context waited on (attached
//! to its parent from then on; a context nothing waits on is not).

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Waker};

use ctx::Context;

/// One turn of a `select!` loop's `done()` branch, in `waker`'s task: the
/// future made, polled once (pending) and dropped.
#[inline]
pub fn done_turn(ctx: &Context<'_>, waker: &Waker) {
    let mut cx = TaskContext::from_waker(waker);
    assert!(pin!(black_box(ctx).done()).poll(&mut cx).is_pending());
}

/// Polls a `done()` future of `ctx` once and drops it, as a task that
/// waited on it would.
pub fn waited_on_once(ctx: &Context<'_>) {
    done_turn(ctx, Waker::noop());
}
