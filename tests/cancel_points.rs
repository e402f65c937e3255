//! `ctx::testing::CancelPoints`: an async fn run uncancelled, then
//! cancelled at each checked await in turn, on tokio's paused clock; each
//! outcome checked by the test; a failure names the checkpoint and where
//! it is.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

use ctx::testing::{CancelPoints, Checkpoint};
use ctx::{ctx_fn, Context, Error};

/// A payment provider and a ledger, in memory. Each call takes a few
/// (paused) milliseconds and takes effect when it completes.
#[derive(Debug, Default)]
struct Shop {
    charged: Cell<u32>,
    recorded: Cell<u32>,
    receipts: Cell<u32>,
}

impl Shop {
    async fn charge(&self, amount: u32) {
        tokio::time::sleep(Duration::from_millis(30)).await;
        self.charged.set(self.charged.get() + amount);
    }

    async fn record(&self, amount: u32) {
        tokio::time::sleep(Duration::from_millis(10)).await;
        self.recorded.set(self.recorded.get() + amount);
    }

    async fn send_receipt(&self) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.receipts.set(self.receipts.get() + 1);
    }

    /// The invariant: every charge is recorded.
    fn every_charge_recorded(&self) -> bool {
        self.charged.get() == self.recorded.get()
    }
}

/// The planted bug: the charge and its record are two checked awaits, with
/// a third between them, so a cancellation after the charge loses the
/// record.
async fn checkout_buggy(ctx: Context<'_>, shop: &Shop) -> Result<(), Error> {
    ctx.run(shop.charge(100)).await?;
    ctx.run(shop.send_receipt()).await?; // between the charge and its record
    ctx.run(shop.record(100)).await?;
    Ok(())
}

/// The fix: once the money is taken, the record is made whatever happens
/// to the request (a plain await, not raced against the context).
async fn checkout_fixed(ctx: Context<'_>, shop: &Shop) -> Result<(), Error> {
    ctx.run(shop.charge(100)).await?;
    shop.record(100).await;
    ctx.run(shop.send_receipt()).await?;
    Ok(())
}

/// Runs `checkout` on a fresh shop under every cancellation point and
/// checks that every charge is recorded.
fn check_checkout(checkout: impl AsyncFn(Context<'static>, &Shop) -> Result<(), Error>) {
    CancelPoints::new(|ctx| async {
        let shop = Shop::default();
        let result = checkout(ctx, &shop).await;
        (result, shop)
    })
    .check(|outcome| {
        let (result, shop) = outcome.output;
        assert!(
            shop.every_charge_recorded(),
            "charged and not recorded: {shop:?}"
        );
        match outcome.cancelled_at {
            None => assert_eq!(result, Ok(())),
            Some(_) => assert_eq!(result, Err(Error::Canceled)),
        }
    });
}

/// The message of the panic `f` raises.
fn panic_message(f: impl FnOnce()) -> String {
    let panic = catch_unwind(AssertUnwindSafe(f)).expect_err("it should have panicked");
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => panic.downcast_ref::<&str>().unwrap().to_string(),
    }
}

/// The line of the first line of this file that contains `code`.
fn line_of(code: &str) -> u32 {
    let source = include_str!("cancel_points.rs");
    let at = source.lines().position(|line| line.contains(code));
    at.map(|at| at as u32 + 1)
        .expect("the code is in this file")
}

#[test]
fn finds_the_planted_charge_before_record_bug() {
    let message = panic_message(|| check_checkout(checkout_buggy));
    let between = line_of("between the charge and its record");
    assert!(
        message.starts_with(&format!(
            "cancel-point check failed when cancelled at checkpoint 1 at {}:{between}:",
            file!()
        )),
        "{message}"
    );
    assert!(
        message.contains("(awaiting Shop::send_receipt, in flight): charged and not recorded"),
        "{message}"
    );
}

#[test]
fn the_fixed_version_passes() {
    check_checkout(checkout_fixed);
}

/// Each step of a fn awaited through `ctx.run`, with what it did.
async fn three_steps(ctx: Context<'_>, done: &RefCell<Vec<&'static str>>) -> Result<(), Error> {
    // step 1
    let ready = async { done.borrow_mut().push("ready at once") };
    ctx.run(ready).await?;
    // step 2
    ctx.run(tokio::time::sleep(Duration::from_secs(1))).await?;
    done.borrow_mut().push("slept");
    let (budget, _cancel) = ctx.with_timeout(Duration::from_secs(5));
    // step 3
    budget.run(tokio::task::yield_now()).await?;
    done.borrow_mut().push("yielded");
    Ok(())
}

/// What one run of a fn of steps returned, and the steps it did.
type StepsRun = (Result<(), Error>, Vec<&'static str>);

/// What each run of `steps` returned and did, and the checkpoints of the
/// cancelled runs.
fn runs_of(
    steps: impl AsyncFn(Context<'static>, &RefCell<Vec<&'static str>>) -> Result<(), Error>,
) -> (Vec<StepsRun>, Vec<Checkpoint>) {
    let outcomes = CancelPoints::new(|ctx| async {
        let done = RefCell::new(Vec::new());
        let result = steps(ctx, &done).await;
        (result, done.into_inner())
    })
    .outcomes();
    let points = outcomes
        .iter()
        .filter_map(|outcome| outcome.cancelled_at)
        .collect();
    let runs = outcomes.into_iter().map(|outcome| outcome.output).collect();
    (runs, points)
}

#[test]
fn the_points_of_a_fn_using_run_are_its_run_calls_in_order() {
    let (runs, points) = runs_of(three_steps);
    let lines: Vec<u32> = points.iter().map(|point| point.location.line()).collect();
    assert_eq!(
        lines,
        [
            line_of("// step 1") + 2,
            line_of("// step 2") + 1,
            line_of("// step 3") + 1
        ]
    );
    for (index, point) in points.iter().enumerate() {
        assert_eq!(point.index, index);
        assert_eq!(point.location.file(), file!());
    }
    let awaited: Vec<_> = points
        .iter()
        .map(|point| point.awaited_name().unwrap_or_default())
        .collect();
    assert_eq!(awaited, ["three_steps", "Sleep", "yield_now"]);
    let in_flight: Vec<bool> = points.iter().map(|point| point.in_flight).collect();
    assert_eq!(in_flight, [false, true, true]);
    assert_eq!(
        runs,
        [
            (Ok(()), vec!["ready at once", "slept", "yielded"]),
            // Step 1 finished without waiting: its work stands, and the
            // cancellation is seen by step 2, before it starts.
            (Err(Error::Canceled), vec!["ready at once"]),
            (Err(Error::Canceled), vec!["ready at once"]),
            // Step 3 races a context derived from the cancelled one.
            (Err(Error::Canceled), vec!["ready at once", "slept"]),
        ]
    );
}

#[ctx_fn]
async fn ctx_fn_steps(ctx: Context, done: &RefCell<Vec<&'static str>>) -> Result<(), Error> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    done.borrow_mut().push("slept");
    tokio::task::yield_now().await;
    done.borrow_mut().push("yielded");
    Ok(())
}

#[test]
fn the_points_of_a_ctx_fn_are_its_awaits() {
    let (runs, points) = runs_of(ctx_fn_steps);
    let in_flight: Vec<bool> = points.iter().map(|point| point.in_flight).collect();
    assert_eq!(in_flight, [true, true], "the fn waits at each await");
    assert!(points.iter().all(|point| point.location.file() == file!()));
    assert_eq!(
        runs,
        [
            (Ok(()), vec!["slept", "yielded"]),
            (Err(Error::Canceled), vec![]),
            (Err(Error::Canceled), vec!["slept"]),
        ]
    );
}

/// Where a `#[ctx_fn]`'s checkpoints are reported depends on the span the
/// macro gives its `__private::check` calls: rustc reports a
/// `#[track_caller]` location inside a macro expansion at the expansion's
/// call site (the attribute) unless the call's tokens carry the `.await`
/// token's own span.
#[test]
fn a_ctx_fn_checkpoint_is_located_at_its_await() {
    let (_, points) = runs_of(ctx_fn_steps);
    let lines: Vec<u32> = points.iter().map(|point| point.location.line()).collect();
    assert_eq!(
        lines,
        [
            line_of("tokio::time::sleep(Duration::from_secs(1)).await;"),
            line_of("tokio::task::yield_now().await;")
        ]
    );
}

#[test]
fn a_failed_check_on_the_uncancelled_run_says_so() {
    let message = panic_message(|| {
        CancelPoints::new(|ctx| async move { ctx.run(tokio::task::yield_now()).await })
            .check(|outcome| assert!(outcome.output.is_err(), "expected an error"))
    });
    assert_eq!(
        message,
        "cancel-point check failed on the uncancelled run: expected an error"
    );
}

#[test]
fn a_panic_in_the_fn_names_the_checkpoint() {
    let message = panic_message(|| {
        CancelPoints::new(|ctx| async move {
            // the panic
            let result = ctx.run(tokio::task::yield_now()).await;
            result.expect("not cancelled");
        })
        .check(|_| {})
    });
    let line = line_of("// the panic") + 1;
    assert!(
        message.starts_with(&format!(
            "the fn under test panicked when cancelled at checkpoint 0 at {}:{line}:",
            file!()
        )),
        "{message}"
    );
    assert!(message.ends_with(": not cancelled: Canceled"), "{message}");
}

#[test]
fn a_fn_that_is_not_deterministic_is_reported() {
    let runs = Cell::new(0);
    let message = panic_message(|| {
        CancelPoints::new(|ctx| {
            runs.set(runs.get() + 1);
            let first_run = runs.get() == 1;
            async move {
                if first_run {
                    let _ = ctx.run(tokio::task::yield_now()).await;
                }
                let _ = ctx.run(tokio::task::yield_now()).await;
            }
        })
        .check(|_| {})
    });
    assert!(
        message.contains("did not pass the checkpoints of the first run"),
        "{message}"
    );
    assert!(message.contains("the fn is not deterministic"), "{message}");
}

#[test]
fn a_fn_without_checkpoints_is_an_error() {
    let message = panic_message(|| {
        CancelPoints::new(|_ctx| async { tokio::task::yield_now().await }).check(|_| {})
    });
    assert!(message.contains("the fn passed no checkpoint"), "{message}");
}

#[tokio::test]
async fn inside_a_runtime_it_says_where_to_call_it() {
    let message = panic_message(|| {
        CancelPoints::new(|ctx| async move { ctx.run(async {}).await }).check(|_| {})
    });
    assert!(
        message.contains("call it from a plain #[test]"),
        "{message}"
    );
}
