//! A deadline context outliving the Tokio runtime that timed it: cancelled
//! when that runtime shuts down, saying so, instead of staying live
//! forever (its timer is gone); never a hang, never a panic.

use std::time::Duration;

use ctx_core::{Context, Error, RuntimeGone};

/// Bounds a wait that must end; only a broken build waits this long.
const BOUND: Duration = Duration::from_secs(10);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Cancelled, with a cause users can tell by its type and read.
fn assert_runtime_gone(ctx: &Context<'_>) {
    assert_eq!(ctx.err(), Some(Error::Canceled));
    let cause = ctx.cause().unwrap();
    assert!(cause.downcast_ref::<RuntimeGone>().is_some(), "{cause:?}");
    let cause = cause.to_string();
    assert!(
        cause.contains("runtime") && cause.contains("shut down"),
        "{cause}"
    );
}

#[test]
fn a_deadline_whose_runtime_shut_down_is_cancelled_saying_so() {
    let first = runtime();
    let (ctx, _cancel) =
        first.block_on(async { Context::background().with_timeout(Duration::from_secs(3600)) });
    let (child, _cancel_child) = ctx.with_cancel();
    assert_eq!(ctx.err(), None);
    drop(first);
    assert_runtime_gone(&ctx);
    assert_runtime_gone(&child);

    // Awaited on another runtime, `done()` completes instead of hanging.
    let second = runtime();
    let done = second.block_on(async { tokio::time::timeout(BOUND, ctx.done()).await });
    assert_eq!(done, Ok(Error::Canceled));
}

/// Entered in the handle of a runtime that shut down, whether or not that
/// runtime ever timed a deadline (its queue exists, or is made then).
#[test]
fn a_deadline_armed_through_a_dead_runtimes_handle_is_cancelled_at_once() {
    for timed_before in [true, false] {
        let first = runtime();
        let handle = first.handle().clone();
        if timed_before {
            first.block_on(async {
                let (_ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(1));
            });
        }
        drop(first);
        let _entered = handle.enter();
        let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(3600));
        assert_runtime_gone(&ctx);
    }
}

#[test]
fn a_deadline_that_passed_before_its_runtime_shut_down_keeps_its_error() {
    let first = runtime();
    let ctx = first.block_on(async {
        let (ctx, cancel) = Context::background().with_timeout(Duration::from_millis(1));
        ctx.done().await;
        drop(cancel);
        ctx
    });
    drop(first);
    assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
}
