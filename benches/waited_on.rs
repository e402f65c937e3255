//! A context waited on once, as a task that polled its `done()` would
//! leave it: attached to its parent from then on (a context nothing waits
//! on is not).

use std::future::Future;
use std::pin::pin;
use std::task::{Context as TaskContext, Waker};

use ctx::Context;

/// Polls a `done()` future of `ctx` once and drops it.
pub fn waited_on_once(ctx: &Context<'_>) {
    let mut cx = TaskContext::from_waker(Waker::noop());
    assert!(pin!(ctx.done()).poll(&mut cx).is_pending());
}
