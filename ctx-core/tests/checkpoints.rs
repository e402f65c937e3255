//! The hook behind `ctx::testing` (feature `testing`): every `Run`
//! reports its first poll, with its caller's location, to the observer of
//! the task that polls it, before it looks at its context; the observed
//! future reports each suspension; a context the observer cancels is seen
//! at once.
#![cfg(feature = "testing")]

use std::cell::RefCell;
use std::future::pending;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ctx_core::testing::{observe, reached, Event};
use ctx_core::{Context, Error};

/// An observer that records what it hears, and the record.
fn recorder() -> (Rc<RefCell<Vec<Event>>>, impl FnMut(Event) + 'static) {
    let heard = Rc::new(RefCell::new(Vec::new()));
    let record = {
        let heard = heard.clone();
        move |event| heard.borrow_mut().push(event)
    };
    (heard, record)
}

#[tokio::test(start_paused = true)]
async fn each_run_reports_once_where_it_is_called_and_each_suspension() {
    let (ctx, _cancel) = Context::background().with_cancel();
    let (heard, record) = recorder();
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

    let heard = heard.borrow();
    let [Event::Reached(ready), Event::Reached(sleep), Event::Suspended] = heard[..] else {
        panic!("the sleep, polled twice, is reached once, then suspends once: {heard:?}");
    };
    for (point, line) in [(ready, lines[0]), (sleep, lines[1])] {
        assert_eq!(point.location.file(), file!());
        assert_eq!(point.location.line(), line);
    }
    assert!(ready.awaited.unwrap().ends_with("{{closure}}"), "{ready:?}");
    assert_eq!(sleep.awaited, Some("tokio::time::sleep::Sleep"));
}

#[tokio::test]
async fn a_check_that_is_not_a_run_reports_its_callers_location() {
    let (heard, record) = recorder();
    let line = observe(record, async {
        reached();
        line!() - 1
    })
    .await;
    let [Event::Reached(point)] = heard.borrow()[..] else {
        panic!("{:?}", heard.borrow());
    };
    assert_eq!(
        (point.location.file(), point.location.line()),
        (file!(), line)
    );
    assert_eq!(point.awaited, None);
}

/// Dropped with a flag, to see when a future is dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_cancel_on_suspension_drops_the_future_in_flight_and_a_cancel_on_reaching_is_seen_at_once(
) {
    let (ctx, cancel) = Context::background().with_cancel();
    let dropped = Arc::new(AtomicBool::new(false));
    let observer = move |event| {
        if event == Event::Suspended {
            cancel.cancel();
        }
    };
    let flag = DropFlag(dropped.clone());
    let in_flight = observe(observer, async {
        ctx.run(async move {
            let _flag = flag;
            pending::<()>().await
        })
        .await
    })
    .await;
    assert_eq!(in_flight, Err(Error::Canceled));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the in-flight future was dropped"
    );

    let (ctx, cancel) = Context::background().with_cancel();
    let observer = move |event| {
        if matches!(event, Event::Reached(_)) {
            cancel.cancel();
        }
    };
    let polled = Arc::new(AtomicBool::new(false));
    let ran = observe(observer, async {
        ctx.run(async { polled.store(true, Ordering::SeqCst) })
            .await
    })
    .await;
    assert_eq!(ran, Err(Error::Canceled));
    assert!(!polled.load(Ordering::SeqCst), "never started");
}

/// The observer is the task's, not the thread's: awaits of a task the
/// observed future spawns, or of a future polled beside it on the same
/// task but outside it, are not reported.
#[tokio::test(start_paused = true)]
async fn only_the_observed_futures_own_awaits_are_reported() {
    let ctx = Context::background();
    let (heard, record) = recorder();
    let observed = observe(record, async {
        let spawned = tokio::spawn(async {
            Context::background()
                .run(tokio::task::yield_now())
                .await
                .unwrap()
        });
        spawned.await.unwrap();
        ctx.run(async {}).await.unwrap();
    });
    let beside = async {
        ctx.run(tokio::task::yield_now()).await.unwrap();
        ctx.run(tokio::task::yield_now()).await.unwrap();
    };
    tokio::join!(observed, beside);
    let reached: Vec<_> = heard
        .borrow()
        .iter()
        .filter(|event| matches!(event, Event::Reached(_)))
        .copied()
        .collect();
    assert_eq!(reached.len(), 1, "{reached:?}");
}

#[tokio::test]
async fn runs_outside_any_observer_are_plain_races() {
    let (ctx, cancel) = Context::background().with_cancel();
    assert_eq!(ctx.run(async { 7 }).await, Ok(7));
    reached();
    cancel.cancel();
    assert_eq!(ctx.run(async { 7 }).await, Err(Error::Canceled));
}
