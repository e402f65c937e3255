//! Cancellation-point testing (feature `testing`): run an async fn under
//! every place it can be cancelled, and check what each run leaves behind.
//!
//! A cancel-safety bug is work left half done when a future is dropped at
//! an `.await`: money charged and never recorded, a message taken off a
//! queue and never handled. Such bugs hide in the one interleaving nobody
//! tried. [`CancelPoints`] tries them all, deterministically:
//!
//! 1. a first run, uncancelled, counts the *checkpoints* the fn passes:
//!    its checked awaits, `N` of them;
//! 2. then `N` runs, run `i` cancelling the context at checkpoint `i`
//!    (while the fn waits there: see [Checkpoints](#checkpoints)), each on
//!    a fresh current-thread runtime with tokio's paused clock, so every
//!    run is the same up to its cancellation;
//! 3. every run's [`Outcome`] (where it was cancelled, and what the fn's
//!    future returned: its result and whatever state the test captures)
//!    goes to the test's closure, which asserts its invariants. A failure
//!    names the checkpoint and its place in the source.
//!
//! ```
//! use std::cell::Cell;
//! use std::time::Duration;
//! use ctx::testing::CancelPoints;
//! use ctx::{Context, Error};
//!
//! /// A payment provider and a ledger, in memory; each call takes 10 ms.
//! #[derive(Default)]
//! struct Shop {
//!     charged: Cell<u32>,
//!     recorded: Cell<u32>,
//! }
//!
//! impl Shop {
//!     async fn charge_and_record(&self, amount: u32) {
//!         tokio::time::sleep(Duration::from_millis(10)).await;
//!         self.charged.set(self.charged.get() + amount);
//!         self.recorded.set(self.recorded.get() + amount);
//!     }
//!
//!     async fn send_receipt(&self) {
//!         tokio::time::sleep(Duration::from_millis(10)).await;
//!     }
//! }
//!
//! async fn checkout(ctx: Context<'_>, shop: &Shop) -> Result<(), Error> {
//!     ctx.run(shop.charge_and_record(100)).await?;
//!     ctx.run(shop.send_receipt()).await?;
//!     Ok(())
//! }
//!
//! CancelPoints::new(|ctx| async move {
//!     let shop = Shop::default();
//!     let result = checkout(ctx, &shop).await;
//!     (result, shop)
//! })
//! .check(|outcome| {
//!     let (result, shop) = outcome.output;
//!     assert_eq!(shop.charged.get(), shop.recorded.get(), "a charge was not recorded");
//!     if outcome.cancelled_at.is_some() {
//!         assert_eq!(result, Err(Error::Canceled));
//!     }
//! });
//! ```
//!
//! # Checkpoints
//!
//! A checkpoint is an await the crate checks: every `.await` of a
//! `#[ctx_fn]` body, and every [`Context::run`](crate::Context::run)
//! future. It is reached when the await is about to look at its context
//! (a `ctx.run` future's first poll). Run `i` cancels the context the first
//! time the fn is suspended after reaching checkpoint `i`: the awaited
//! future, polled and pending, is dropped *in flight*, as a real
//! cancellation would drop it while the fn waits there. If the fn reaches
//! the next checkpoint without waiting (the awaited future finished at
//! once), the cancellation comes there instead, and that await sees it
//! before it starts.
//!
//! # Limits
//!
//! - Awaits the crate does not check are not checkpoints: a plain
//!   `.await` outside `#[ctx_fn]` and `ctx.run`, awaits inside closures and
//!   async blocks of a `#[ctx_fn]` (the block is one checkpoint where it
//!   is awaited), `tokio::select!` and `join!` branches, `#[uncancelable]`
//!   statements, and `done()` futures. The harness does not aim at them: a
//!   cancellation there happens only when the fn first waits at one after
//!   a checkpoint, as that checkpoint's.
//! - Only the awaits of the fn's own task count: work it spawns (with
//!   [`Context::spawn`](crate::Context::spawn) or `#[detached]`) runs on
//!   the same runtime but is not watched, and ends with the run.
//! - Each run cancels the context the harness made (and so everything
//!   derived from it), once. A context the fn gets elsewhere is not
//!   cancelled.
//! - Runs must be deterministic: driven by tokio's paused clock and by
//!   each other, not by real I/O, other threads or randomness. A run that
//!   reaches different checkpoints than the first one fails, saying so.
//! - The harness builds its own runtimes: call it from a plain `#[test]`,
//!   not from inside a Tokio runtime.

use std::any::Any;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe, Location};
use std::rc::Rc;

use ctx_core::__private::{panic_message, ShortTypeName};
use ctx_core::testing::{observe, Event, Reached};

use crate::Context;

/// An async fn to run under every cancellation point. See the
/// [module docs](self).
///
/// The closure makes one run: it gets the run's context, and its future
/// returns whatever the checks need, typically the fn's result and the
/// state it changed, built fresh inside the future.
///
/// ```
/// use ctx::testing::CancelPoints;
/// use ctx::Context;
///
/// async fn two_steps(ctx: Context<'_>) -> Result<u32, ctx::Error> {
///     let one = ctx.run(async { 1 }).await?;
///     let two = ctx.run(tokio::task::yield_now()).await.map(|()| 1)?;
///     Ok(one + two)
/// }
///
/// let outcomes = CancelPoints::new(|ctx| async move { two_steps(ctx).await }).outcomes();
/// assert_eq!(outcomes.len(), 3, "the uncancelled run, then one per checkpoint");
/// assert_eq!(outcomes[0].output, Ok(2));
/// ```
pub struct CancelPoints<F> {
    make: F,
}

/// One checked await of the fn under test.
///
/// ```
/// use ctx::testing::CancelPoints;
///
/// let outcomes = CancelPoints::new(|ctx| async move {
///     ctx.run(tokio::time::sleep(std::time::Duration::from_secs(1))).await
/// })
/// .outcomes();
/// let point = outcomes[1].cancelled_at.unwrap();
/// assert_eq!(point.index, 0);
/// assert_eq!(point.location.file(), file!(), "where `ctx.run` is called");
/// assert_eq!(point.awaited_name().as_deref(), Some("Sleep"));
/// assert!(point.in_flight);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Checkpoint {
    /// Its rank among the checkpoints the fn passes, from 0.
    pub index: usize,
    /// Where the await is in the source.
    pub location: &'static Location<'static>,
    /// The type of the awaited future, as [`std::any::type_name`] gives it
    /// (an async fn's future is `path::to::the_fn::{{closure}}`), when the
    /// check knows it: a `ctx.run` future does, a `#[ctx_fn]` await does
    /// not.
    pub awaited: Option<&'static str>,
    /// Whether the fn was waiting, after this checkpoint and before any
    /// other, when the context was cancelled: at this await, normally, so
    /// that its future was dropped in flight (or at an unchecked await
    /// further on). `false` when the fn went on without waiting: the next
    /// checked await saw the cancellation before it started (or, if the fn
    /// reached none, the cancellation came after it returned).
    pub in_flight: bool,
}

impl Checkpoint {
    /// The awaited future's type without module paths, when known:
    /// `Ledger::record` for the future of `Ledger`'s async fn `record` (or
    /// of an async block in it), `Sleep` for tokio's sleep.
    ///
    /// ```
    /// use ctx::testing::CancelPoints;
    ///
    /// async fn lookup() {}
    ///
    /// let outcomes = CancelPoints::new(|ctx| async move { ctx.run(lookup()).await }).outcomes();
    /// let point = outcomes[1].cancelled_at.unwrap();
    /// assert_eq!(point.awaited_name().as_deref(), Some("lookup"));
    /// ```
    pub fn awaited_name(&self) -> Option<String> {
        let mut name = self.awaited?;
        while let Some(outer) = name.strip_suffix("::{{closure}}") {
            name = outer;
        }
        Some(ShortTypeName(name).to_string())
    }
}

/// `checkpoint 2 at src/shop.rs:41:37 (awaiting Ledger::record, in
/// flight)`; `not in flight` when the fn went on without waiting there.
///
/// ```
/// use ctx::testing::CancelPoints;
///
/// let outcomes = CancelPoints::new(|ctx| async move { ctx.run(tokio::task::yield_now()).await }).outcomes();
/// let point = outcomes[1].cancelled_at.unwrap();
/// assert_eq!(
///     point.to_string(),
///     format!("checkpoint 0 at {} (awaiting yield_now, in flight)", point.location)
/// );
/// ```
impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "checkpoint {} at {} (", self.index, self.location)?;
        if let Some(awaited) = self.awaited_name() {
            write!(f, "awaiting {awaited}, ")?;
        }
        let flight = if self.in_flight { "" } else { "not " };
        write!(f, "{flight}in flight)")
    }
}

/// What one run of the fn did.
///
/// ```
/// use ctx::testing::CancelPoints;
/// use ctx::Error;
///
/// let outcomes = CancelPoints::new(|ctx| async move { ctx.run(tokio::task::yield_now()).await }).outcomes();
/// assert_eq!(outcomes[0].cancelled_at, None);
/// assert_eq!(outcomes[0].output, Ok(()));
/// assert_eq!(outcomes[1].cancelled_at.map(|point| point.index), Some(0));
/// assert_eq!(outcomes[1].output, Err(Error::Canceled));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Outcome<T> {
    /// Where the context was cancelled; `None` for the uncancelled run.
    pub cancelled_at: Option<Checkpoint>,
    /// What the future made by the closure returned.
    pub output: T,
}

impl<F, Fut> CancelPoints<F>
where
    F: FnMut(Context<'static>) -> Fut,
    Fut: Future,
{
    /// The fn to test, as a closure that makes one run of it.
    ///
    /// ```
    /// use ctx::testing::CancelPoints;
    ///
    /// let points = CancelPoints::new(|ctx| async move { ctx.run(async { 42 }).await });
    /// assert_eq!(points.outcomes()[0].output, Ok(42));
    /// ```
    pub fn new(make: F) -> Self {
        CancelPoints { make }
    }

    /// Runs the fn uncancelled, then cancelled at each checkpoint in turn,
    /// and hands every outcome to `check`, which asserts the fn's
    /// invariants; the uncancelled run comes first.
    ///
    /// # Panics
    ///
    /// When `check` panics (an assertion failed) or the fn does, with a
    /// message that names the run: the checkpoint, its source location and
    /// what was awaited there. Also when the fn passes no checkpoint (there
    /// is nothing to test: are its awaits checked?), when a run does not
    /// pass the checkpoints of the first run (it is not deterministic), and
    /// when called inside a Tokio runtime.
    ///
    /// ```should_panic
    /// use std::cell::Cell;
    /// use std::time::Duration;
    /// use ctx::testing::CancelPoints;
    ///
    /// // Charges, then records in a second step: cancelled in between,
    /// // the charge is never recorded.
    /// CancelPoints::new(|ctx| async move {
    ///     let (charged, recorded) = (Cell::new(false), Cell::new(false));
    ///     let steps = async {
    ///         ctx.run(tokio::time::sleep(Duration::from_millis(5))).await?;
    ///         charged.set(true);
    ///         ctx.run(tokio::time::sleep(Duration::from_millis(5))).await?;
    ///         recorded.set(true);
    ///         Ok::<(), ctx::Error>(())
    ///     };
    ///     let _ = steps.await;
    ///     (charged.get(), recorded.get())
    /// })
    /// .check(|outcome| {
    ///     let (charged, recorded) = outcome.output;
    ///     assert!(!charged || recorded, "charged and not recorded");
    /// });
    /// // panics: "cancel-point check failed when cancelled at checkpoint 1
    /// // at <file>:<line>:<column> (awaiting Sleep, in flight): charged and
    /// // not recorded"
    /// ```
    pub fn check(self, mut check: impl FnMut(Outcome<Fut::Output>)) {
        self.each_outcome(|outcome| {
            let run = describe_run(outcome.cancelled_at);
            if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(outcome))) {
                panic!("cancel-point check failed {run}: {}", message(&*panic));
            }
        });
    }

    /// Every run's outcome, the uncancelled run first, for a test that
    /// reports rather than asserts.
    ///
    /// # Panics
    ///
    /// As [`check`](CancelPoints::check), except for the checks.
    ///
    /// ```
    /// use ctx::testing::CancelPoints;
    ///
    /// let outcomes = CancelPoints::new(|ctx| async move {
    ///     ctx.run(tokio::task::yield_now()).await.is_ok()
    ///         && ctx.run(tokio::task::yield_now()).await.is_ok()
    /// })
    /// .outcomes();
    /// let finished: Vec<bool> = outcomes.iter().map(|outcome| outcome.output).collect();
    /// assert_eq!(finished, [true, false, false]);
    /// ```
    pub fn outcomes(self) -> Vec<Outcome<Fut::Output>> {
        let mut outcomes = Vec::new();
        self.each_outcome(|outcome| outcomes.push(outcome));
        outcomes
    }

    fn each_outcome(mut self, mut each: impl FnMut(Outcome<Fut::Output>)) {
        if tokio::runtime::Handle::try_current().is_ok() {
            panic!(
                "ctx::testing::CancelPoints runs each run on a runtime of its own (current-thread, \
                 paused clock) and cannot start one inside a Tokio runtime: call it from a plain \
                 #[test], not from #[tokio::test] or async code"
            );
        }
        let (output, first) = self.run_once(None);
        if first.reached.is_empty() {
            panic!(
                "ctx::testing::CancelPoints: the fn passed no checkpoint, so there is nothing to \
                 cancel; checkpoints are the awaits of a #[ctx_fn] body and ctx.run(..) futures"
            );
        }
        each(Outcome {
            cancelled_at: None,
            output,
        });
        for index in 0..first.reached.len() {
            let (output, trace) = self.run_once(Some(index));
            let same = trace.reached.len() > index
                && trace.reached[..=index]
                    .iter()
                    .zip(&first.reached)
                    .all(|(now, then)| now.location == then.location);
            if !same {
                panic!(
                    "ctx::testing::CancelPoints: the run cancelled at checkpoint {index} did not \
                     pass the checkpoints of the first run before it (first run: {}; this run: \
                     {}): the fn is not deterministic; runs must depend only on tokio's paused \
                     clock, not on real I/O, other threads or randomness",
                    locations(&first.reached[..=index]),
                    locations(&trace.reached),
                );
            }
            each(Outcome {
                cancelled_at: trace.checkpoint(index),
                output,
            });
        }
    }

    /// One run on a fresh runtime, cancelled at checkpoint `cancel_at` if
    /// any: the future's output and what the run saw.
    fn run_once(&mut self, cancel_at: Option<usize>) -> (Fut::Output, Trace) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap_or_else(|err| {
                panic!("ctx::testing::CancelPoints could not build a Tokio runtime: {err}")
            });
        let (ctx, cancel) = Context::background().with_cancel();
        let trace = Rc::new(RefCell::new(Trace::default()));
        let observer = {
            let trace = trace.clone();
            move |event| {
                // The borrow ends first: cancelling runs after-funcs.
                let cancel_now = trace.borrow_mut().record(event, cancel_at);
                if cancel_now {
                    cancel.cancel();
                }
            }
        };
        // Made inside the runtime, so the closure may arm deadlines.
        let run = async { observe(observer, (self.make)(ctx)).await };
        let output = match catch_unwind(AssertUnwindSafe(|| runtime.block_on(run))) {
            Ok(output) => output,
            Err(panic) => {
                let cancelled_at = cancel_at.and_then(|index| trace.borrow().checkpoint(index));
                panic!(
                    "the fn under test panicked {}: {}",
                    describe_run(cancelled_at),
                    message(&*panic)
                );
            }
        };
        drop(runtime);
        let trace = trace.take();
        (output, trace)
    }
}

/// What one run saw.
#[derive(Default)]
struct Trace {
    /// The checkpoints it reached, in order.
    reached: Vec<Reached>,
    /// Once it cancelled, whether the fn was suspended at its checkpoint.
    in_flight: Option<bool>,
}

impl Trace {
    /// Records `event`. For a run cancelling at checkpoint `cancel_at`,
    /// `true` when the moment has come: the fn is suspended at that
    /// checkpoint (its awaited future in flight), or it has reached the
    /// next one without waiting (which then sees the cancellation).
    fn record(&mut self, event: Event, cancel_at: Option<usize>) -> bool {
        if let Event::Reached(point) = event {
            self.reached.push(point);
        }
        let (Some(target), None) = (cancel_at, self.in_flight) else {
            return false;
        };
        let in_flight = match event {
            Event::Suspended if self.reached.len() == target + 1 => true,
            Event::Reached(_) if self.reached.len() == target + 2 => false,
            _ => return false,
        };
        self.in_flight = Some(in_flight);
        true
    }

    /// Checkpoint `index`, if the run reached it.
    fn checkpoint(&self, index: usize) -> Option<Checkpoint> {
        let reached = self.reached.get(index)?;
        Some(Checkpoint {
            index,
            location: reached.location,
            awaited: reached.awaited,
            in_flight: self.in_flight.unwrap_or(false),
        })
    }
}

fn describe_run(cancelled_at: Option<Checkpoint>) -> String {
    match cancelled_at {
        Some(point) => format!("when cancelled at {point}"),
        None => "on the uncancelled run".to_owned(),
    }
}

fn locations(points: &[Reached]) -> String {
    let locations: Vec<String> = points
        .iter()
        .map(|point| point.location.to_string())
        .collect();
    locations.join(", ")
}

/// A panic's message, when it has one.
fn message(panic: &(dyn Any + Send)) -> &str {
    panic_message(panic).unwrap_or("(a panic without a message)")
}
