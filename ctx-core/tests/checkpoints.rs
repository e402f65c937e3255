//! The hook behind `ctx::testing` (feature `testing`): every `Run` reports
//! its first poll, with its caller's location, to the observer of the task
//! that polls it, and a context that observer cancels is seen by that very
//! await.
#![cfg(feature = "testing")]

use std::cell::RefCell;
use std::future::pending;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ctx_core::__testing::{observe, Reached};
use ctx_core::{Context, Error};

/// An observer that records what it is told, and the record.
fn recorder() -> (Rc<RefCell<Vec<Reached>>>, impl FnMut(Reached) + 'static) {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let record = {
        let seen = seen.clone();
        move |reached| seen.borrow_mut().push(reached)
    };
    (seen, record)
}

#[tokio::test(start_paused = true)]
async fn each_run_reports_once_at_its_first_poll_where_it_is_called() {
    let (ctx, _cancel) = Context::background().with_cancel();
    let (seen, record) = recorder();
    let lines = observe(record, async {
        let ready = line!() + 1;
        ctx.run(async { 1 }).await.unwrap();
        let sleeping = line!() + 1;
        ctx.run(tokio::time::sleep(Duration::from_secs(1)))
            .await
            .unwrap();
        [ready, sleeping]
    })
    .await;

    let seen = seen.borrow();
    assert_eq!(seen.len(), 2, "the sleep, polled twice, is reported once");
    for (reached, line) in seen.iter().zip(lines) {
        assert_eq!(reached.location.file(), file!());
        assert_eq!(reached.location.line(), line);
    }
    assert!(
        seen[0].awaited.ends_with("{{closure}}"),
        "{}",
        seen[0].awaited
    );
    assert!(!seen[0].in_flight, "finished at its first poll");
    assert_eq!(seen[1].awaited, "tokio::time::sleep::Sleep");
    assert!(seen[1].in_flight);
}

/// Dropped with a flag, to see when a future is dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancel_by_the_observer_is_seen_by_that_await_and_drops_its_future() {
    let (ctx, cancel) = Context::background().with_cancel();
    let dropped = Arc::new(AtomicBool::new(false));
    let mut points = 0;
    let observer = move |_: Reached| {
        points += 1;
        if points == 1 {
            cancel.cancel();
        }
    };
    let flag = DropFlag(dropped.clone());
    let results = observe(observer, async {
        let first = ctx
            .run(async move {
                let _flag = flag;
                pending::<()>().await
            })
            .await;
        let second = ctx.run(async { 2 }).await;
        (first, second)
    })
    .await;
    assert_eq!(results, (Err(Error::Canceled), Err(Error::Canceled)));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the in-flight future was dropped"
    );
}

/// The observer is the task's, not the thread's: awaits of a task the
/// observed future spawns, or of a future polled beside it on the same
/// task but outside it, are not reported.
#[tokio::test(start_paused = true)]
async fn only_the_observed_futures_own_awaits_are_reported() {
    let ctx = Context::background();
    let (seen, record) = recorder();
    let observed = observe(record, async {
        let spawned = tokio::spawn(async {
            Context::background()
                .run(tokio::task::yield_now())
                .await
                .unwrap()
        });
        spawned.await.unwrap();
        ctx.run(tokio::task::yield_now()).await.unwrap();
    });
    let beside = async {
        ctx.run(tokio::task::yield_now()).await.unwrap();
        ctx.run(tokio::task::yield_now()).await.unwrap();
    };
    tokio::join!(observed, beside);
    let seen = seen.borrow();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0].awaited,
        "tokio::task::yield_now::yield_now::{{closure}}"
    );
}

#[tokio::test]
async fn runs_outside_an_observer_are_plain_races() {
    let (ctx, cancel) = Context::background().with_cancel();
    assert_eq!(ctx.run(async { 7 }).await, Ok(7));
    cancel.cancel();
    assert_eq!(ctx.run(async { 7 }).await, Err(Error::Canceled));
}
