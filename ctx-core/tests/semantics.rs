//! Go's context guarantees, one test each, in the spirit of Go's
//! `context/x_test.go`. Deadlines run on tokio's paused clock.

use std::future::{pending, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use ctx_core::testing::{armed_deadlines, registrations};
use ctx_core::{Context, Error, Instant};
use tokio::time::advance;

#[derive(Debug, PartialEq, Clone)]
struct TraceId(&'static str);

#[derive(Debug, PartialEq)]
struct UserId(u64);

/// Attaches `ctx` to its parent as real code does, by waiting on it: a
/// `done()` future polled once registers (then, dropped, parks its
/// registration with the thread).
fn attach(ctx: &Context<'_>) {
    assert!(poll_done_once(ctx, Waker::noop()).is_pending());
}

fn cause_text(ctx: &Context<'_>) -> Option<String> {
    ctx.cause().map(|cause| cause.to_string())
}

#[test]
fn roots_are_never_done_and_carry_nothing() {
    for (root, name) in [
        (Context::background(), "context.Background"),
        (Context::todo(), "context.TODO"),
    ] {
        assert_eq!(root.err(), None);
        assert!(!root.is_done());
        assert!(root.cause().is_none());
        assert_eq!(root.deadline(), None);
        assert_eq!(root.value::<TraceId>(), None);
        assert_eq!(root.to_string(), name);
    }
}

#[test]
fn cancel_reaches_every_descendant_and_no_ancestor() {
    let (grandparent, _keep) = Context::background().with_cancel();
    let (parent, cancel_parent) = grandparent.with_cancel();
    let (child, _c1) = parent.with_value(TraceId("t")).with_cancel();
    let (sibling, _c2) = parent.with_cancel();
    let value_leaf = child.with_value(UserId(1));
    let detached = child.without_cancel();

    cancel_parent.cancel();

    for ctx in [&parent, &child, &sibling, &value_leaf] {
        assert_eq!(ctx.err(), Some(Error::Canceled), "{ctx}");
    }
    assert_eq!(
        grandparent.err(),
        None,
        "cancellation never reaches ancestors"
    );
    assert_eq!(detached.err(), None, "without_cancel stops propagation");
}

#[test]
fn child_cancel_leaves_parent_and_siblings_alone() {
    let (parent, _cancel) = Context::background().with_cancel();
    let (a, cancel_a) = parent.with_cancel();
    let (b, _cancel_b) = parent.with_cancel();
    attach(&a);
    attach(&b);
    assert_eq!(registrations(&parent), 2);
    cancel_a.cancel();
    assert!(a.is_done());
    assert!(!b.is_done());
    assert!(!parent.is_done());
    assert_eq!(
        registrations(&parent),
        1,
        "a canceled child leaves its parent's registry"
    );
}

#[test]
fn child_of_a_done_parent_is_done_at_once_with_its_cause() {
    let (parent, cancel) = Context::background().with_cancel_cause();
    cancel.cancel("parent gone");
    let (child, _c) = parent.with_cancel();
    let (timed, _t) = parent.with_timeout(Duration::from_secs(1));
    let valued = parent.with_value(UserId(2));
    for ctx in [&child, &timed, &valued] {
        assert_eq!(ctx.err(), Some(Error::Canceled), "{ctx}");
        assert_eq!(cause_text(ctx).as_deref(), Some("parent gone"), "{ctx}");
    }
    assert_eq!(registrations(&parent), 0);
}

/// A child registers with its parent only once something waits on it (or
/// on a descendant): until then a cancel of the parent reaches it when it
/// is looked at, with the parent's error and cause.
#[test]
fn a_child_registers_with_its_parent_once_waited_on() {
    let (parent, cancel) = Context::background().with_cancel_cause();
    let (child, _c) = parent.with_cancel();
    let (grandchild, _g) = child.with_cancel();
    assert_eq!(registrations(&parent), 0);
    attach(&grandchild);
    assert_eq!(registrations(&parent), 1, "the child, for its child");
    assert_eq!(registrations(&child), 1, "the grandchild");

    let (unattached, _u) = parent.with_cancel();
    cancel.cancel("parent gone");
    for ctx in [&child, &grandchild, &unattached] {
        assert_eq!(ctx.err(), Some(Error::Canceled), "{ctx}");
        assert_eq!(cause_text(ctx).as_deref(), Some("parent gone"), "{ctx}");
    }
}

/// A long chain of contexts nothing waits on is built without touching any
/// parent's registry; the first check at its end attaches all but its last
/// few links, so that each check walks a few ancestors, not the whole
/// chain; the root's cancel reaches every link.
#[test]
fn a_deep_chain_attaches_on_its_first_check() {
    let (root, cancel) = Context::background().with_cancel();
    let mut chain = vec![root.with_cancel()];
    for _ in 1..100 {
        let next = chain.last().unwrap().0.with_cancel();
        chain.push(next);
    }
    let attached = |chain: &[(Context<'_>, _)]| {
        chain
            .iter()
            .filter(|(ctx, _)| registrations(ctx) > 0)
            .count()
    };
    assert_eq!(attached(&chain), 0, "building the chain attaches nothing");
    assert_eq!(registrations(&root), 0);

    assert_eq!(chain.last().unwrap().0.err(), None);
    assert!(
        attached(&chain) >= 80,
        "the first check attaches the chain above its walk: {} of 100 attached",
        attached(&chain)
    );
    assert!(chain
        .iter()
        .rev()
        .take(8)
        .all(|(ctx, _)| registrations(ctx) == 0));
    cancel.cancel();
    assert!(chain
        .iter()
        .all(|(ctx, _)| ctx.err() == Some(Error::Canceled)));
}

/// A child of a context whose ancestor is done, made before anything
/// looked at that context, is done from the ancestor when looked at: with
/// the ancestor's error and cause, like every context between them.
#[test]
fn a_child_of_an_unchecked_context_under_a_done_ancestor_is_done() {
    let (root, cancel) = Context::background().with_cancel_cause();
    let (middle, _m) = root.with_cancel();
    cancel.cancel("root gone");
    let (child, _c) = middle.with_cancel();
    let (grandchild, _g) = child.with_cancel();
    assert_eq!(grandchild.err(), Some(Error::Canceled));
    for ctx in [&middle, &child, &grandchild] {
        assert_eq!(ctx.err(), Some(Error::Canceled), "{ctx}");
        assert_eq!(cause_text(ctx).as_deref(), Some("root gone"), "{ctx}");
    }
}

/// Rule 2 of the request scope: a context is never cancelled behind the
/// back of the work it was handed to. Dropping the handle leaves it live;
/// its place in its parent goes with its last clone.
#[test]
fn dropping_the_handle_does_not_cancel() {
    let (parent, _keep) = Context::background().with_cancel();
    let (child, cancel) = parent.with_cancel();
    attach(&child);
    assert_eq!(registrations(&parent), 1);
    drop(cancel);
    assert_eq!(child.err(), None);
    assert_eq!(registrations(&parent), 1);
    drop(child);
    assert_eq!(registrations(&parent), 0, "released with its last clone");
}

/// Go's `defer cancel()`: the guard cancels when its scope ends.
#[test]
fn a_drop_guard_cancels_when_dropped_and_not_once_disarmed() {
    let (ctx, cancel) = Context::background().with_cancel();
    let cancel = cancel.drop_guard().disarm();
    assert_eq!(ctx.err(), None);
    drop(cancel.drop_guard());
    assert_eq!(ctx.err(), Some(Error::Canceled));

    let (ctx, cancel) = Context::background().with_cancel_cause();
    let guard = cancel.drop_guard();
    drop(guard);
    assert_eq!(ctx.err(), Some(Error::Canceled));
    assert!(cause_text(&ctx).is_some_and(|cause| cause == "context canceled"));
}

/// `let (ctx, _) = ..` discards the handle: the context lives until its
/// deadline, as the work it is handed expects, not a moment less.
#[tokio::test(start_paused = true)]
async fn a_discarded_handle_leaves_the_context_to_its_deadline() {
    let (ctx, _) = Context::background().with_timeout(Duration::from_secs(5));
    assert_eq!(ctx.err(), None);
    let started = tokio::time::Instant::now();
    assert_eq!(ctx.done().await, Error::DeadlineExceeded);
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

/// Work handed a budget of its own by a fn that returns at once (its
/// handle dropped with it) runs to its end within that budget, and no
/// longer.
#[tokio::test(start_paused = true)]
async fn spawned_work_outlives_the_fn_that_gave_it_a_budget() {
    fn start(
        request: &Context<'_>,
        work: Duration,
    ) -> tokio::task::JoinHandle<Result<&'static str, Error>> {
        let (ctx, _cancel) = request
            .without_cancel()
            .with_timeout(Duration::from_secs(5));
        tokio::spawn(async move {
            ctx.run(tokio::time::sleep(work)).await?;
            Ok("published")
        })
    }
    let (request, end_request) = Context::background().with_cancel();
    let publish = start(&request, Duration::from_secs(1));
    end_request.cancel();
    assert_eq!(publish.await.unwrap(), Ok("published"));

    let started = tokio::time::Instant::now();
    let too_slow = start(&request, Duration::from_secs(60));
    assert_eq!(too_slow.await.unwrap(), Err(Error::DeadlineExceeded));
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "ended by its budget"
    );
}

/// Go's TestCause table: the first cancellation to reach a context wins,
/// and its cause sticks.
#[test]
fn first_cancellation_wins_and_its_cause_sticks() {
    // Parent first: the child reports the parent's cause.
    let (parent, cancel_parent) = Context::background().with_cancel_cause();
    let (child, cancel_child) = parent.with_cancel_cause();
    cancel_parent.cancel("parent cause");
    cancel_child.cancel("child cause");
    assert_eq!(cause_text(&child).as_deref(), Some("parent cause"));

    // Child first: each keeps its own.
    let (parent, cancel_parent) = Context::background().with_cancel_cause();
    let (child, cancel_child) = parent.with_cancel_cause();
    cancel_child.cancel("child cause");
    cancel_parent.cancel("parent cause");
    assert_eq!(cause_text(&child).as_deref(), Some("child cause"));
    assert_eq!(cause_text(&parent).as_deref(), Some("parent cause"));

    // A cause-less cancel first: the cause is the error, and it sticks.
    let (parent, cancel_parent) = Context::background().with_cancel_cause();
    let (child, cancel_child) = parent.with_cancel();
    cancel_child.cancel();
    cancel_parent.cancel("parent cause");
    assert_eq!(cause_text(&child).as_deref(), Some("context canceled"));

    // Parent without a cause, then a child cause: too late.
    let (parent, cancel_parent) = Context::background().with_cancel();
    let (child, cancel_child) = parent.with_cancel_cause();
    cancel_parent.cancel();
    cancel_child.cancel("child cause");
    assert_eq!(cause_text(&child).as_deref(), Some("context canceled"));

    // The same handle twice: the first cause sticks.
    let (ctx, cancel) = Context::background().with_cancel_cause();
    cancel.cancel("first");
    cancel.cancel("second");
    assert_eq!(cause_text(&ctx).as_deref(), Some("first"));
}

#[test]
fn cause_is_none_until_done_and_the_error_without_an_explicit_one() {
    let (ctx, cancel) = Context::background().with_cancel();
    assert!(ctx.cause().is_none());
    cancel.cancel();
    let cause = ctx.cause().expect("done");
    assert_eq!(cause.downcast_ref::<Error>(), Some(&Error::Canceled));
}

#[tokio::test(start_paused = true)]
async fn deadline_fires_exactly_on_time() {
    let start = Instant::now();
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(100));
    assert_eq!(ctx.deadline(), Some(start + Duration::from_millis(100)));
    advance(Duration::from_millis(99)).await;
    assert_eq!(ctx.err(), None);
    assert_eq!(ctx.done().await, Error::DeadlineExceeded);
    assert_eq!(Instant::now(), start + Duration::from_millis(100));
    assert_eq!(
        cause_text(&ctx).as_deref(),
        Some("context deadline exceeded")
    );
}

#[tokio::test(start_paused = true)]
async fn deadline_reaches_descendants_with_its_cause() {
    let (parent, _cancel) =
        Context::background().with_timeout_cause(Duration::from_secs(1), "budget spent");
    let (child, _c) = parent.with_cancel();
    let leaf = child.with_value(UserId(3));
    assert_eq!(leaf.done().await, Error::DeadlineExceeded);
    assert_eq!(child.err(), Some(Error::DeadlineExceeded));
    assert_eq!(cause_text(&leaf).as_deref(), Some("budget spent"));
}

#[tokio::test(start_paused = true)]
async fn a_child_deadline_never_extends_the_parents() {
    let (parent, _c1) = Context::background().with_timeout(Duration::from_secs(1));
    let (later, _c2) = parent.with_timeout(Duration::from_secs(10));
    assert_eq!(later.deadline(), parent.deadline());
    assert_eq!(later.to_string(), format!("{parent}.WithCancel"));
    let (sooner, _c3) = parent.with_timeout(Duration::from_millis(10));
    assert!(sooner.deadline() < parent.deadline());

    advance(Duration::from_millis(10)).await;
    tokio::task::yield_now().await;
    assert_eq!(sooner.err(), Some(Error::DeadlineExceeded));
    assert_eq!(parent.err(), None);
    assert_eq!(later.done().await, Error::DeadlineExceeded);
}

/// A deadline child of a live parent is not registered with it (nothing
/// waits on it): when the parent is cancelled first, the child still
/// reports the parent's error and cause, before and after its own deadline
/// passes, and its deadline then changes nothing.
#[tokio::test(start_paused = true)]
async fn a_deadline_child_of_a_parent_cancelled_first_keeps_the_parents_error() {
    let (parent, cancel) = Context::background().with_cancel_cause();
    let (child, _c) = parent.with_timeout_cause(Duration::from_secs(1), "budget spent");
    assert_eq!(registrations(&parent), 0, "not attached at birth");
    cancel.cancel("client went away");
    assert_eq!(child.err(), Some(Error::Canceled));
    advance(Duration::from_secs(2)).await;
    tokio::task::yield_now().await;
    assert_eq!(child.err(), Some(Error::Canceled));
    assert_eq!(cause_text(&child).as_deref(), Some("client went away"));

    // Unobserved until its deadline: the timer's cancellation looks at the
    // ancestors first.
    let (parent, cancel) = Context::background().with_cancel();
    let (child, _c) = parent.with_timeout(Duration::from_secs(1));
    cancel.cancel();
    advance(Duration::from_secs(2)).await;
    tokio::task::yield_now().await;
    assert_eq!(child.done().await, Error::Canceled);
}

#[tokio::test(start_paused = true)]
async fn a_past_deadline_cancels_at_once() {
    let (zero, _c1) = Context::background().with_timeout(Duration::ZERO);
    assert_eq!(zero.err(), Some(Error::DeadlineExceeded));
    let past = Instant::now() - Duration::from_secs(1);
    let (ctx, _c2) = Context::background().with_deadline_cause(past, "too late");
    assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
    assert_eq!(cause_text(&ctx).as_deref(), Some("too late"));
    assert_eq!(ctx.deadline(), Some(past));
    // Before this process made its first deadline (kept apart from the
    // ones after it), and still reported as given.
    if let Some(long_past) = Instant::now().checked_sub(Duration::from_secs(3600)) {
        let (ctx, _c3) = Context::background().with_deadline(long_past);
        assert_eq!(ctx.deadline(), Some(long_past));
        assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
    }
}

#[test]
fn a_past_deadline_needs_no_runtime() {
    let (ctx, _cancel) = Context::background().with_timeout(Duration::ZERO);
    assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
}

#[test]
#[should_panic(expected = "needs a Tokio runtime for its timer")]
fn a_future_deadline_outside_a_runtime_says_what_to_do() {
    let _ = Context::background().with_timeout(Duration::from_secs(1));
}

/// A timeout too large for an instant is no deadline: a plain cancelable
/// child, with its parent's deadline if any. A deadline an instant holds,
/// however far, is the context's, and ends it when it passes.
#[tokio::test(start_paused = true)]
async fn huge_timeouts_are_no_deadline_and_far_deadlines_fire() {
    let (forever, _c1) = Context::background().with_timeout(Duration::MAX);
    assert_eq!(forever.deadline(), None);
    assert_eq!(forever.remaining(), None);
    assert_eq!(forever.to_string(), "context.Background.WithCancel");
    let thousand_years = Duration::from_secs(1_000 * 365 * 24 * 3600);
    let far = Instant::now() + thousand_years;
    let (distant, _c2) = Context::background().with_deadline(far);
    assert_eq!(distant.deadline(), Some(far));
    let (under_distant, _c4) = distant.with_timeout(Duration::MAX);
    assert_eq!(under_distant.deadline(), Some(far), "the parent's");
    let twenty_years = Duration::from_secs(20 * 365 * 24 * 3600);
    let (armed, _c3) = Context::background().with_timeout(twenty_years);
    advance(Duration::from_secs(365 * 24 * 3600)).await;
    assert_eq!(distant.err(), None);
    assert_eq!(forever.err(), None);
    assert_eq!(armed.err(), None);
    advance(twenty_years).await;
    assert_eq!(armed.done().await, Error::DeadlineExceeded);
    advance(thousand_years).await;
    assert_eq!(distant.done().await, Error::DeadlineExceeded);
    assert_eq!(under_distant.done().await, Error::DeadlineExceeded);
    assert_eq!(forever.err(), None);
}

/// The last instant there is, as a deadline: armed like any other, and the
/// timer keeps firing the deadlines before it.
#[tokio::test(start_paused = true)]
async fn a_deadline_at_the_last_instant_leaves_the_timer_working() {
    let now = Instant::now();
    let fits = |ahead: Duration| now.checked_add(ahead).is_some();
    let (mut low, mut high) = (Duration::ZERO, Duration::MAX);
    while high - low > Duration::from_nanos(1) {
        let middle = low + (high - low) / 2;
        if fits(middle) {
            low = middle;
        } else {
            high = middle;
        }
    }
    let last = now + low;
    let (at_last, _c1) = Context::background().with_deadline(last);
    assert_eq!(at_last.deadline(), Some(last));
    // The timer's driver runs, and sleeps until the earliest deadline.
    tokio::task::yield_now().await;
    let (soon, _c2) = Context::background().with_timeout(Duration::from_secs(1));
    assert_eq!(soon.done().await, Error::DeadlineExceeded);
    assert_eq!(at_last.err(), None);
}

/// `remaining` is the time left before the deadline: `None` without one,
/// zero once it has passed.
#[tokio::test(start_paused = true)]
async fn remaining_is_the_time_left_before_the_deadline() {
    assert_eq!(Context::background().remaining(), None);
    let (plain, _c1) = Context::background().with_cancel();
    assert_eq!(plain.remaining(), None);

    let (ctx, _c2) = Context::background().with_timeout(Duration::from_secs(2));
    let (child, _c3) = ctx.with_cancel();
    assert_eq!(ctx.remaining(), Some(Duration::from_secs(2)));
    assert_eq!(child.remaining(), Some(Duration::from_secs(2)), "inherited");
    advance(Duration::from_millis(500)).await;
    assert_eq!(child.remaining(), Some(Duration::from_millis(1500)));

    let past = Instant::now() - Duration::from_secs(1);
    let (late, _c4) = Context::background().with_deadline(past);
    assert_eq!(late.remaining(), Some(Duration::ZERO));
    advance(Duration::from_secs(2)).await;
    assert_eq!(ctx.remaining(), Some(Duration::ZERO));
}

/// A child whose deadline is no earlier than its parent's arms no timer of
/// its own, nor does one under a parent already done, nor one whose
/// deadline already passed: only the deadlines that will end their
/// contexts are armed.
#[tokio::test(start_paused = true)]
async fn only_a_deadline_of_its_own_is_armed() {
    let (parent, _c1) = Context::background().with_timeout(Duration::from_secs(1));
    assert_eq!(armed_deadlines(), 1);
    let (later, _c2) = parent.with_timeout(Duration::from_secs(10));
    let (same, _c3) = parent.with_deadline(parent.deadline().unwrap());
    assert_eq!(armed_deadlines(), 1, "the parent's only");
    assert_eq!(later.deadline(), parent.deadline());
    assert_eq!(same.to_string(), format!("{parent}.WithCancel"));

    let (_passed, _c4) = Context::background().with_timeout(Duration::ZERO);
    let (done, cancel) = Context::background().with_cancel();
    cancel.cancel();
    let (_under_done, _c5) = done.with_timeout(Duration::from_secs(1));
    assert_eq!(armed_deadlines(), 1, "still the parent's only");

    let (_sooner, _c6) = parent.with_timeout(Duration::from_millis(10));
    assert_eq!(armed_deadlines(), 2);
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_deadline_context_reports_canceled_and_disarms_its_deadline() {
    let (ctx, cancel) = Context::background().with_timeout(Duration::from_secs(60));
    assert_eq!(armed_deadlines(), 1);
    cancel.cancel();
    assert_eq!(ctx.err(), Some(Error::Canceled));
    assert_eq!(armed_deadlines(), 0, "the deadline is disarmed");
    advance(Duration::from_secs(61)).await;
    assert_eq!(
        ctx.err(),
        Some(Error::Canceled),
        "the first cancellation sticks"
    );
}

#[tokio::test(start_paused = true)]
async fn without_cancel_keeps_values_and_drops_the_rest() {
    let (parent, cancel) = Context::background()
        .with_value(TraceId("abc"))
        .with_timeout_cause(Duration::from_secs(1), "budget");
    let detached = parent.without_cancel();
    assert_eq!(detached.value::<TraceId>(), Some(&TraceId("abc")));
    assert_eq!(detached.deadline(), None);
    cancel.cancel();
    assert!(parent.is_done());
    assert_eq!(detached.err(), None);
    assert!(detached.cause().is_none());

    // It can be the parent of new cancelable contexts.
    let (child, cancel_child) = detached.with_timeout(Duration::from_millis(5));
    assert_eq!(child.value::<TraceId>(), Some(&TraceId("abc")));
    assert!(child.deadline().is_some());
    assert_eq!(child.done().await, Error::DeadlineExceeded);
    drop(cancel_child);
    assert!(detached.to_string().ends_with(".WithoutCancel"));
}

#[test]
fn values_are_keyed_by_type_and_nearer_values_shadow() {
    let outer = Context::background()
        .with_value(TraceId("outer"))
        .with_value(UserId(1));
    let (cancelable, _c) = outer.with_cancel();
    let inner = cancelable.with_value(TraceId("inner"));
    assert_eq!(inner.value::<TraceId>(), Some(&TraceId("inner")));
    assert_eq!(inner.value::<UserId>(), Some(&UserId(1)));
    assert_eq!(
        outer.value::<TraceId>(),
        Some(&TraceId("outer")),
        "the parent is unchanged"
    );
    assert_eq!(inner.value::<String>(), None);
    assert_eq!(inner.without_cancel().value::<UserId>(), Some(&UserId(1)));
}

#[test]
fn display_shows_the_derivation_chain() {
    let (ctx, _c) = Context::todo().with_cancel();
    let ctx = ctx.with_value(UserId(1)).without_cancel();
    assert_eq!(
        ctx.to_string(),
        "context.TODO.WithCancel.WithValue(UserId).WithoutCancel"
    );
    assert!(format!("{ctx:?}").contains("context.TODO.WithCancel"));
}

fn counter() -> (Arc<AtomicUsize>, impl Fn() -> usize) {
    let count = Arc::new(AtomicUsize::new(0));
    let read = count.clone();
    (count, move || read.load(Ordering::SeqCst))
}

#[tokio::test]
async fn done_completes_for_waiters_on_other_tasks() {
    let (ctx, cancel) = Context::background().with_cancel();
    let waiters: Vec<_> = (0..8).map(|_| tokio::spawn(ctx.done_owned())).collect();
    tokio::task::yield_now().await;
    cancel.cancel();
    for waiter in waiters {
        assert_eq!(waiter.await.unwrap(), Error::Canceled);
    }
    assert_eq!(ctx.done().await, Error::Canceled, "done stays done");
}

/// A task's waker that counts how many times it was woken.
#[derive(Default)]
struct Task(AtomicUsize);

impl std::task::Wake for Task {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Task {
    fn waker() -> (Arc<Task>, Waker) {
        let task = Arc::new(Task::default());
        (task.clone(), Waker::from(task))
    }

    fn wakes(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// One turn of a `select!` loop's `done()` branch: made, polled, dropped.
fn poll_done_once(ctx: &Context<'_>, waker: &Waker) -> Poll<Error> {
    std::pin::pin!(ctx.done()).poll(&mut TaskContext::from_waker(waker))
}

/// A `done()` future made, polled and dropped on every turn of a loop
/// leaves one registration behind, parked with its thread for the next
/// turn, however many turns it takes; the thread frees it when it parks
/// one on another context, or exits.
#[test]
fn dropped_done_futures_leave_one_registration_per_thread() {
    let (ctx, _cancel) = Context::background().with_cancel();
    let (other, _other_cancel) = Context::background().with_cancel();
    let (_task, waker) = Task::waker();
    for _ in 0..1000 {
        assert!(poll_done_once(&ctx, &waker).is_pending());
    }
    assert_eq!(registrations(&ctx), 1);

    assert!(poll_done_once(&other, &waker).is_pending());
    assert_eq!(registrations(&ctx), 0, "freed when another was parked");
    assert_eq!(registrations(&other), 1);

    let thread_ctx = ctx.clone();
    std::thread::spawn(move || {
        let (_task, waker) = Task::waker();
        assert!(poll_done_once(&thread_ctx, &waker).is_pending());
        assert_eq!(registrations(&thread_ctx), 1);
    })
    .join()
    .unwrap();
    assert_eq!(registrations(&ctx), 0, "freed when its thread exited");
}

/// A parked registration is taken over by the next task that waits on its
/// context from that thread: that task is woken by the cancellation, and
/// the task that left it is not.
#[test]
fn a_parked_registration_wakes_the_task_that_took_it_over() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (left, left_waker) = Task::waker();
    let (waiting, waiting_waker) = Task::waker();
    assert!(poll_done_once(&ctx, &left_waker).is_pending());

    let mut done = std::pin::pin!(ctx.done());
    let mut cx = TaskContext::from_waker(&waiting_waker);
    assert!(done.as_mut().poll(&mut cx).is_pending());
    assert_eq!(registrations(&ctx), 1, "the parked one, taken over");

    cancel.cancel();
    assert_eq!(waiting.wakes(), 1);
    assert_eq!(left.wakes(), 0);
    assert_eq!(done.poll(&mut cx), Poll::Ready(Error::Canceled));
}

/// The price of parking: a task whose loop left a context is woken once by
/// that context's cancellation from another thread (a spurious wake-up,
/// which wakers allow); the cancellation takes the registration like any
/// other.
#[test]
fn a_parked_registration_wakes_its_task_once_on_a_cancel_from_another_thread() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (task, waker) = Task::waker();
    assert!(poll_done_once(&ctx, &waker).is_pending());
    std::thread::spawn(move || cancel.cancel()).join().unwrap();
    assert_eq!(task.wakes(), 1);
    assert_eq!(registrations(&ctx), 0);
    assert_eq!(poll_done_once(&ctx, &waker), Poll::Ready(Error::Canceled));
}

/// A cancel on the thread a registration is parked with frees it instead
/// of waking its task: a request's end, on the thread its handler awaited
/// on, costs the connection's task no spurious poll. A registration taken
/// back by a waiting future is not parked, and is woken.
#[test]
fn a_cancel_on_the_parking_thread_frees_its_parked_registration_unwoken() {
    let (ctx, cancel) = Context::background().with_cancel();
    let (task, waker) = Task::waker();
    assert!(poll_done_once(&ctx, &waker).is_pending());
    cancel.cancel();
    assert_eq!(task.wakes(), 0);
    assert_eq!(registrations(&ctx), 0);
    assert_eq!(poll_done_once(&ctx, &waker), Poll::Ready(Error::Canceled));

    let (ctx, cancel) = Context::background().with_cancel();
    assert!(poll_done_once(&ctx, &waker).is_pending());
    let mut done = std::pin::pin!(ctx.done());
    let mut cx = TaskContext::from_waker(&waker);
    assert!(done.as_mut().poll(&mut cx).is_pending(), "took it back");
    cancel.cancel();
    assert_eq!(task.wakes(), 1);
    assert_eq!(done.poll(&mut cx), Poll::Ready(Error::Canceled));
}

/// A `done()` future that completed has no registration left to park
/// (the cancellation took it): dropping it leaves the one the thread
/// parked before, so the many tasks a cancellation wakes on one thread
/// each end without a lock.
#[test]
fn a_completed_done_future_leaves_the_parked_registration_alone() {
    let (parked, _parked_cancel) = Context::background().with_cancel();
    let (ctx, cancel) = Context::background().with_cancel();
    let (_task, waker) = Task::waker();
    let mut cx = TaskContext::from_waker(&waker);
    let mut done = Box::pin(ctx.done());
    assert!(done.as_mut().poll(&mut cx).is_pending());
    assert!(poll_done_once(&parked, &waker).is_pending());
    assert_eq!(registrations(&parked), 1);

    cancel.cancel();
    assert_eq!(done.as_mut().poll(&mut cx), Poll::Ready(Error::Canceled));
    drop(done);
    assert_eq!(registrations(&parked), 1, "still parked");
}

#[tokio::test(start_paused = true)]
async fn run_drops_the_losing_future() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
    let (count, drops) = counter();
    let guard = Flag(count);
    let result = ctx
        .run(async move {
            let _guard = guard;
            pending::<()>().await;
        })
        .await;
    assert_eq!(result, Err(Error::DeadlineExceeded));
    assert_eq!(drops(), 1, "the in-flight future was dropped");
    assert_eq!(
        ctx.run(async { 5 }).await,
        Err(Error::DeadlineExceeded),
        "a done context wins"
    );
    assert_eq!(Context::background().run(async { 5 }).await, Ok(5));
}

/// Go's TestContextErrDoneRace: once `err()` reports done, `done()` is
/// ready too.
#[test]
fn err_and_done_agree() {
    for _ in 0..100 {
        let (ctx, cancel) = Context::background().with_cancel();
        let canceller = std::thread::spawn(move || cancel.cancel());
        while ctx.err().is_none() {
            std::hint::spin_loop();
        }
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let done = std::pin::pin!(ctx.done());
        assert!(done.poll(&mut cx).is_ready());
        canceller.join().unwrap();
    }
}

#[test]
fn errors_speak_go_and_std() {
    assert_eq!(Error::Canceled.to_string(), "context canceled");
    assert_eq!(
        Error::DeadlineExceeded.to_string(),
        "context deadline exceeded"
    );
    assert!(Error::DeadlineExceeded.is_timeout());
    assert!(!Error::Canceled.is_timeout());
    let io: std::io::Error = Error::DeadlineExceeded.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    let io: std::io::Error = Error::Canceled.into();
    assert_eq!(io.kind(), std::io::ErrorKind::Other);
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(Error::Canceled);
    assert_eq!(boxed.to_string(), "context canceled");
}

#[test]
fn contexts_are_send_sync_static_and_small() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Context<'static>>();
    assert_send_sync::<ctx_core::CancelHandle>();
    assert_send_sync::<ctx_core::AfterFuncHandle>();
    assert_send_sync::<ctx_core::DoneOwned>();
    assert!(std::mem::size_of::<Context<'static>>() <= 16);
}

/// Hostile depth: a chain far deeper than any stack frame budget derives,
/// reports, prints and drops without recursion. Run on a small stack.
#[test]
fn a_very_deep_chain_neither_recurses_nor_overflows() {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let (root, cancel) = Context::background().with_cancel();
            let mut ctx = root.clone();
            let mut handles = Vec::new();
            for depth in 0..200_000_u32 {
                ctx = if depth % 2 == 0 {
                    ctx.with_value(depth)
                } else {
                    let (child, handle) = ctx.with_cancel();
                    handles.push(handle);
                    child
                };
            }
            assert_eq!(ctx.deadline(), None);
            assert!(ctx
                .to_string()
                .starts_with("context.Background.WithCancel.WithValue(u32)"));
            cancel.cancel();
            assert_eq!(ctx.err(), Some(Error::Canceled));
            drop(handles);
            drop(ctx);
            assert_eq!(registrations(&root), 0);
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
}
