//! After-funcs run off the canceller's stack, as Go's `AfterFunc` runs in a
//! goroutine of its own: `cancel()` never waits for one, and a slow one
//! delays no other context.
//!
//! Every assertion is about order, never about how long something took:
//! an after-func blocks until the test signals it, and reports whether the
//! signal came. Run inline on the canceller's stack, it would wait out its
//! bound instead (the signal is sent only after the canceller went on).

use std::sync::mpsc;
use std::time::Duration;

use ctx_core::testing::registrations;
use ctx_core::{Context, Error};

/// How long a blocked after-func waits for the test's signal: the slow
/// after-func of the scenario. Only a broken build waits it out.
const SLOW: Duration = Duration::from_millis(1500);

/// Bounds a step that must happen; only a broken test waits this long.
const BOUND: Duration = Duration::from_secs(10);

/// An after-func that blocks until `signal` (at most [`SLOW`]), then
/// reports whether the signal came while it was blocked.
fn blocks_until(signal: mpsc::Receiver<()>) -> (impl FnOnce() + Send, mpsc::Receiver<bool>) {
    let (report, reported) = mpsc::channel();
    let f = move || {
        let _ = report.send(signal.recv_timeout(SLOW).is_ok());
    };
    (f, reported)
}

fn assert_signalled(reported: &mpsc::Receiver<bool>, what: &str) {
    let signalled = reported
        .recv_timeout(BOUND)
        .expect("the after-func ran and reported");
    assert!(signalled, "{what}");
}

/// Cancels a context whose after-func blocks until `cancel()` has
/// returned.
fn cancel_returns_first() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (returned, signal) = mpsc::channel();
    let (f, reported) = blocks_until(signal);
    let _handle = ctx.after_func(f);
    cancel.cancel();
    let _ = returned.send(());
    assert_signalled(&reported, "cancel() waited for its after-func");
}

/// Outside a runtime: the after-func gets a thread of its own.
#[test]
fn cancel_returns_without_waiting_for_an_after_func() {
    cancel_returns_first();
}

/// On a runtime: the after-func goes to its blocking pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_on_a_runtime_returns_without_waiting_for_an_after_func() {
    cancel_returns_first();
}

#[test]
fn an_after_func_on_a_done_context_is_started_without_waiting_for_it() {
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.cancel();
    let (returned, signal) = mpsc::channel();
    let (f, reported) = blocks_until(signal);
    let handle = ctx.after_func(f);
    let _ = returned.send(());
    assert_signalled(&reported, "after_func() waited for the function");
    assert!(!handle.stop(), "it was started: stop prevented nothing");
}

/// The scenario: one context's after-func blocks for 1.5 s; another
/// context's 80 ms deadline still fires while it is blocked, because the
/// runtime's deadline driver did not run the after-func itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_after_func_delays_no_other_deadline() {
    let (slow, _slow_cancel) = Context::background().with_timeout(Duration::from_millis(10));
    let (other, _other_cancel) = Context::background().with_timeout(Duration::from_millis(80));
    let (fired, signal) = mpsc::channel();
    let (f, reported) = blocks_until(signal);
    let _handle = slow.after_func(f);

    assert_eq!(slow.done().await, Error::DeadlineExceeded);
    assert_eq!(other.done().await, Error::DeadlineExceeded);
    let _ = fired.send(());
    assert_signalled(
        &reported,
        "the 80 ms deadline waited for the other context's after-func",
    );
}

/// An after-func that reports each run on a channel. Its sender goes with
/// it, so once it has run, the channel disconnects: a second run cannot
/// hide.
fn reporting() -> (impl FnOnce() + Send, mpsc::Receiver<()>) {
    let (ran, runs) = mpsc::channel();
    (move || ran.send(()).unwrap(), runs)
}

fn assert_ran_once(runs: &mpsc::Receiver<()>) {
    assert_eq!(runs.recv_timeout(BOUND), Ok(()), "the after-func ran");
    assert_eq!(
        runs.recv_timeout(BOUND),
        Err(mpsc::RecvTimeoutError::Disconnected),
        "and only once"
    );
}

#[test]
fn after_func_runs_exactly_once_after_cancel() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (f, runs) = reporting();
    let handle = ctx.after_func(f);
    cancel.cancel();
    cancel.cancel();
    assert_ran_once(&runs);
    assert!(
        !handle.stop(),
        "stop after the run reports it did not prevent it"
    );
}

/// A context whose last owner (here its cancel handle, outliving the
/// context and the after-func's handle) goes with an after-func registered
/// is cancelled on the way out: the function is not lost.
#[test]
fn after_func_runs_when_the_cancel_handle_goes_last() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (f, runs) = reporting();
    drop(ctx.after_func(f));
    drop(ctx);
    drop(cancel);
    assert_ran_once(&runs);
}

#[test]
fn after_func_on_a_done_context_runs_at_once() {
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.cancel();
    let (f, runs) = reporting();
    let handle = ctx.after_func(f);
    assert_ran_once(&runs);
    assert!(!handle.stop());
}

#[test]
fn after_func_stopped_in_time_never_runs() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (f, runs) = reporting();
    let handle = ctx.after_func(f);
    assert!(handle.stop());
    assert!(!handle.stop(), "only the first stop prevents the run");
    assert_eq!(registrations(&ctx), 0);
    cancel.cancel();
    // The function, and its sender with it, was dropped unrun.
    assert_eq!(
        runs.recv_timeout(BOUND),
        Err(mpsc::RecvTimeoutError::Disconnected)
    );
}

#[test]
fn after_func_on_an_uncancelable_context_never_runs() {
    let handle = Context::background().after_func(|| unreachable!("background is never done"));
    assert!(handle.stop());
}

#[tokio::test(start_paused = true)]
async fn after_func_runs_when_the_deadline_passes() {
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(10));
    let (f, runs) = reporting();
    let _handle = ctx.after_func(f);
    ctx.done().await;
    assert_ran_once(&runs);
}

/// The after-func re-enters the tree it is called from: it would deadlock
/// if the canceller still held a lock.
#[test]
fn after_func_runs_with_no_tree_lock_held() {
    let (parent, cancel) = Context::background().with_cancel();
    let (child, _c) = parent.with_cancel();
    let (report, observed) = mpsc::channel();
    let watched = child.clone();
    let _handle = child.after_func(move || {
        let (grandchild, _g) = watched.with_cancel();
        let nested = watched.after_func(|| {});
        report
            .send((registrations(&watched), grandchild.err(), nested.stop()))
            .unwrap();
    });
    cancel.cancel();
    let observed = observed.recv_timeout(BOUND).expect("the after-func ran");
    assert_eq!(observed, (0, Some(Error::Canceled), false));
}

#[test]
fn a_panicking_after_func_is_contained() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (f, runs) = reporting();
    let _boom = ctx.after_func(|| panic!("after-func panics on purpose"));
    let _ok = ctx.after_func(f);
    cancel.cancel();
    assert_ran_once(&runs);
    assert!(ctx.is_done());
}
