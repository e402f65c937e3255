//! Multi-threaded stress tests of the context tree, in the spirit of Go's
//! `TestSimultaneousCancels`, `TestInterlockedCancels`, `TestLayersCancel`
//! and `TestLayersTimeout` (`context/x_test.go`), plus the churn of
//! short-lived children under one long-lived parent.
//!
//! The loom models (`ctx-core/tests/loom.rs`) prove each race of the tree
//! exhaustively on a tiny tree; these run the same races at scale, on real
//! threads and tokio's multi-thread runtime, and cover what loom cannot:
//! deadlines (tokio's timer), deep and wide trees, many threads at once.
//!
//! Every assertion is on behaviour (errors, causes, values, run counts,
//! empty registries), never on elapsed time; sizes are bounded so the file
//! runs in seconds in a debug build on two cores. A deadlock shows as a hung
//! test, which the harness reports.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::task::{Context as TaskContext, Wake, Waker};
use std::thread;
use std::time::Duration;

use ctx::{CancelCauseHandle, CancelHandle, Context, Error};
use ctx_core::testing::{armed_deadlines, registrations};
// Seeded, so every run shuffles and builds the same way and a failure
// names its seed.
use fastrand::Rng;

/// A waker that does nothing but is not `will_wake`-equal to
/// [`Waker::noop`], so a re-poll with it takes the waker-replacement path.
struct OtherTask;

impl Wake for OtherTask {
    fn wake(self: Arc<Self>) {}
}

/// Bounds a wait for work on other threads (after-funcs run off the
/// canceller's stack); only a broken test waits this long.
const BOUND: Duration = Duration::from_secs(10);

fn cause_text(ctx: &Context<'_>) -> Option<String> {
    ctx.cause().map(|cause| cause.to_string())
}

/// Asserts that exactly `due` after-funcs ran, waiting (bounded) for the
/// last ones: they run on other threads.
fn assert_after_funcs_ran(ran: &AtomicUsize, due: usize) {
    let bound = std::time::Instant::now() + BOUND;
    while ran.load(Ordering::SeqCst) < due && std::time::Instant::now() < bound {
        thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(ran.load(Ordering::SeqCst), due);
}

fn multi_thread_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// Go's `TestSimultaneousCancels`, with causes: a 4-ary tree of 341
/// contexts, every one canceled with its own cause from its own thread, in
/// a shuffled order, while tasks on a multi-thread runtime wait on every
/// `done()`. Every waiter completes, every context is canceled, and the
/// first cancellation to reach each node wins: a node's cause is its own or,
/// if an ancestor's reached it first, exactly its parent's (an ancestor's
/// cancel only descends through nodes it canceled itself).
#[test]
fn simultaneous_cancels() {
    const ROUNDS: u64 = 20;
    const NODES: usize = 1 + 4 + 16 + 64 + 256;
    let runtime = multi_thread_runtime();

    for seed in 0..ROUNDS {
        let mut rng = Rng::with_seed(seed);
        let (root, root_cancel) = Context::background().with_cancel_cause();
        // (context, handle, index of the parent)
        let mut nodes: Vec<(Context, Option<CancelCauseHandle>, usize)> =
            vec![(root, Some(root_cancel), usize::MAX)];
        let mut next_parent = 0;
        while nodes.len() < NODES {
            for _ in 0..4 {
                let (ctx, cancel) = nodes[next_parent].0.with_cancel_cause();
                nodes.push((ctx, Some(cancel), next_parent));
            }
            next_parent += 1;
        }

        let waiters: Vec<_> = nodes
            .iter()
            .map(|(ctx, _, _)| runtime.spawn(ctx.done_owned()))
            .collect();

        let cancels: Vec<(usize, CancelCauseHandle)> = nodes
            .iter_mut()
            .enumerate()
            .map(|(i, (_, cancel, _))| (i, cancel.take().unwrap()))
            .collect();
        let cancellers = cancel_at_once(&mut rng, cancels);

        for waiter in waiters {
            assert_eq!(runtime.block_on(waiter).unwrap(), Error::Canceled);
        }
        // Keep the handles until every cause is checked (dropping is a no-op
        // on a done context anyway, but this keeps the nodes' owners alive).
        let _handles: Vec<_> = cancellers.into_iter().map(|t| t.join().unwrap()).collect();

        for (i, (ctx, _, parent)) in nodes.iter().enumerate() {
            assert_eq!(ctx.err(), Some(Error::Canceled), "seed {seed} node {i}");
            assert_eq!(registrations(ctx), 0, "seed {seed} node {i}");
            let cause = cause_text(ctx).unwrap();
            if cause != format!("node {i}") {
                assert_eq!(
                    Some(cause),
                    cause_text(&nodes[*parent].0),
                    "seed {seed} node {i}: a cause that is neither its own nor its parent's"
                );
            }
        }
    }
}

/// Cancels each context `(i, handle)` from a thread of its own, with the
/// cause `node {i}`, the threads started in a shuffled order and released
/// at once; each thread hands its handle back.
fn cancel_at_once(
    rng: &mut Rng,
    mut cancels: Vec<(usize, CancelCauseHandle)>,
) -> Vec<thread::JoinHandle<CancelCauseHandle>> {
    rng.shuffle(&mut cancels);
    let start = Arc::new(Barrier::new(cancels.len()));
    cancels
        .into_iter()
        .map(|(i, cancel)| {
            let start = start.clone();
            thread::spawn(move || {
                start.wait();
                cancel.cancel(format!("node {i}"));
                cancel
            })
        })
        .collect()
}

/// Go's `TestInterlockedCancels`: a parent's cancellation makes someone
/// cancel the child, from a task woken by the parent's `done()` on another
/// worker, and from an after-func running on the canceller's own stack
/// (which would deadlock if the tree held a lock while running it). The
/// child ends canceled, with the parent's cause or the child's own.
#[test]
fn interlocked_cancels() {
    const ROUNDS: usize = 2_000;
    let runtime = multi_thread_runtime();

    for round in 0..ROUNDS {
        let (parent, cancel_parent) = Context::background().with_cancel_cause();
        let (child, cancel_child) = parent.with_cancel_cause();
        let (grandchild, cancel_grandchild) = child.with_cancel_cause();

        let watcher = {
            let parent = parent.clone();
            runtime.spawn(async move {
                parent.done().await;
                cancel_child.cancel("watcher");
            })
        };
        let (ran, runs) = mpsc::channel();
        let _after = parent.after_func(move || {
            cancel_grandchild.cancel("after_func");
            ran.send(()).unwrap();
        });
        // Cancel from a plain thread, so the after-func gets a thread of
        // its own rather than the runtime's blocking pool.
        thread::spawn(move || cancel_parent.cancel("parent"))
            .join()
            .unwrap();

        assert_eq!(runs.recv_timeout(BOUND), Ok(()), "round {round}");
        runtime.block_on(watcher).unwrap();
        assert_eq!(runtime.block_on(child.done()), Error::Canceled);
        assert_eq!(cause_text(&parent).as_deref(), Some("parent"));
        let child_cause = cause_text(&child).unwrap();
        assert!(
            child_cause == "parent" || child_cause == "watcher",
            "round {round}: {child_cause}"
        );
        let grandchild_cause = cause_text(&grandchild).unwrap();
        assert!(
            grandchild_cause == child_cause || grandchild_cause == "after_func",
            "round {round}: {grandchild_cause} under {child_cause}"
        );
        assert_eq!(registrations(&parent), 0, "round {round}");
    }
}

/// One layer of [`build_layers`]'s chain.
#[derive(Debug, PartialEq)]
struct Layer(usize);

/// Go's `testLayers` chain: at least 30 random layers of values, cancels and
/// timeouts (at least one of each), every value a distinct [`Layer`] wrapped
/// in its own type-keyed slot. Returns the innermost context, the handles,
/// and which layers set a value.
fn build_layers(
    rng: &mut Rng,
    timeout: Duration,
) -> (Context<'static>, Vec<CancelHandle>, Vec<usize>, usize) {
    const MIN_LAYERS: usize = 30;
    let mut ctx = Context::background();
    let mut cancels = Vec::new();
    let mut values = Vec::new();
    let mut timers = 0;
    let mut layer = 0;
    while layer < MIN_LAYERS || timers == 0 || cancels.is_empty() || values.is_empty() {
        match rng.u8(..3) {
            0 => {
                // Values are keyed by type: a `Vec` of every layer that set
                // one, newest last, shadows the previous list.
                values.push(layer);
                ctx = ctx.with_value(values.iter().map(|&l| Layer(l)).collect::<Vec<_>>());
            }
            1 => {
                let (child, cancel) = ctx.with_cancel();
                ctx = child;
                cancels.push(cancel);
            }
            _ => {
                let (child, cancel) = ctx.with_timeout(timeout);
                ctx = child;
                cancels.push(cancel);
                timers += 1;
            }
        }
        layer += 1;
    }
    (ctx, cancels, values, timers)
}

fn check_values(ctx: &Context<'_>, values: &[usize], when: &str) {
    let expected: Vec<Layer> = values.iter().map(|&l| Layer(l)).collect();
    assert_eq!(ctx.value::<Vec<Layer>>(), Some(&expected), "{when}");
}

/// Go's `TestLayersCancel`: many chains built concurrently on a multi-thread
/// runtime (timeouts far away, so only cancels end them); cancelling one
/// random layer, from another thread, makes the innermost context done at
/// once with `Canceled`, keeps every value, and leaves no registration
/// behind once the chain is dropped.
#[test]
fn layers_cancel() {
    const CHAINS: u64 = 500;
    let runtime = multi_thread_runtime();

    let tasks: Vec<_> = (0..CHAINS)
        .map(|seed| {
            runtime.spawn(async move {
                let mut rng = Rng::with_seed(seed);
                let (ctx, mut cancels, values, _) =
                    build_layers(&mut rng, Duration::from_secs(24 * 60 * 60));
                assert_eq!(ctx.err(), None, "seed {seed}: done before any cancel");
                assert!(ctx.to_string().starts_with("context.Background."));
                check_values(&ctx, &values, "before cancel");

                let cancel = cancels.swap_remove(rng.usize(..cancels.len()));
                thread::spawn(move || cancel.cancel()).join().unwrap();
                assert_eq!(ctx.err(), Some(Error::Canceled), "seed {seed}");
                assert_eq!(ctx.done().await, Error::Canceled);
                check_values(&ctx, &values, "after cancel");
            })
        })
        .collect();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
}

/// Go's `TestLayersTimeout`, on tokio's paused clock (single-threaded, so
/// deterministic): the innermost context of each chain times out with
/// `DeadlineExceeded` through whichever of its timeouts is nearest, and
/// keeps every value.
#[tokio::test(start_paused = true)]
async fn layers_timeout_paused() {
    for seed in 0..200 {
        let mut rng = Rng::with_seed(seed);
        let timeout = Duration::from_millis(1 + rng.u64(..100));
        let (ctx, _cancels, values, _) = build_layers(&mut rng, timeout);
        check_values(&ctx, &values, "before timeout");
        assert_eq!(ctx.done().await, Error::DeadlineExceeded, "seed {seed}");
        assert_eq!(ctx.err(), Some(Error::DeadlineExceeded));
        check_values(&ctx, &values, "after timeout");
    }
}

/// `TestLayersTimeout` across workers: chains with real, short timeouts,
/// built and awaited concurrently on a multi-thread runtime, so timers fire
/// on one worker while contexts are created, awaited and dropped on
/// others. Each chain ends with `DeadlineExceeded` (nothing cancels it);
/// no assertion depends on how long that takes.
#[test]
fn layers_timeout_multi_thread() {
    const CHAINS: u64 = 200;
    let runtime = multi_thread_runtime();
    let tasks: Vec<_> = (0..CHAINS)
        .map(|seed| {
            runtime.spawn(async move {
                let mut rng = Rng::with_seed(seed);
                let timeout = Duration::from_millis(1 + rng.u64(..5));
                let (ctx, _cancels, values, _) = build_layers(&mut rng, timeout);
                assert_eq!(ctx.done().await, Error::DeadlineExceeded, "seed {seed}");
                check_values(&ctx, &values, "after timeout");
            })
        })
        .collect();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
}

/// Deadline children racing their own handles: under one parent, tasks on
/// every worker make children with tiny timeouts and drop their handles at
/// random points, so the timer and the handle race to cancel each child.
/// Each child ends with one of the two errors, and the parent keeps no
/// registration once all are gone.
#[test]
fn deadline_vs_handle_churn() {
    const TASKS: u64 = 8;
    const CHILDREN: usize = 1_000;
    let runtime = multi_thread_runtime();
    let (parent, _cancel_parent) = Context::background().with_cancel();

    let tasks: Vec<_> = (0..TASKS)
        .map(|seed| {
            let parent = parent.clone();
            runtime.spawn(async move {
                let mut rng = Rng::with_seed(seed);
                for _ in 0..CHILDREN {
                    let timeout = Duration::from_micros(rng.u64(..200));
                    let (child, cancel) = parent.with_timeout(timeout);
                    match rng.u8(..3) {
                        0 => cancel.cancel(),
                        1 => {
                            tokio::task::yield_now().await;
                            cancel.cancel();
                        }
                        _ => {
                            let err = child.done().await;
                            assert_eq!(err, Error::DeadlineExceeded);
                            cancel.cancel();
                        }
                    }
                    let err = child.err().expect("a child whose handle cancelled is done");
                    assert!(matches!(err, Error::Canceled | Error::DeadlineExceeded));
                }
            })
        })
        .collect();
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
    assert_eq!(parent.err(), None);
    assert_eq!(registrations(&parent), 0);
}

/// Deadlines armed from many threads at once, each into its own shard of
/// the runtime's timer: plain threads that entered the runtime and tasks
/// on its workers, all arming short deadlines that must fire and long ones
/// cancelled by their handles. Every short one fires (none is lost in a
/// shard), none fires before its deadline, the long ones end `Canceled`,
/// and no deadline is left armed on any shard.
#[test]
fn deadlines_from_many_threads_fire_once_each() {
    const THREADS: u64 = 6;
    const TASKS: u64 = 6;
    const PER_WORKER: usize = 2_000;
    let runtime = multi_thread_runtime();

    async fn arm_and_watch(seed: u64) {
        let mut rng = Rng::with_seed(seed);
        let mut short = Vec::new();
        for _ in 0..PER_WORKER {
            let (long, cancel) = Context::background().with_timeout(Duration::from_secs(3600));
            let deadline = tokio::time::Instant::now() + Duration::from_micros(rng.u64(1..3_000));
            short.push((Context::background().with_deadline(deadline), deadline));
            cancel.cancel();
            assert_eq!(long.err(), Some(Error::Canceled), "seed {seed}");
        }
        for ((ctx, _cancel), deadline) in short {
            assert_eq!(ctx.done().await, Error::DeadlineExceeded, "seed {seed}");
            assert!(
                tokio::time::Instant::now() >= deadline,
                "seed {seed}: fired early"
            );
        }
    }

    let handle = runtime.handle().clone();
    let threads: Vec<_> = (0..THREADS)
        .map(|seed| {
            let handle = handle.clone();
            thread::spawn(move || handle.block_on(arm_and_watch(seed)))
        })
        .collect();
    let tasks: Vec<_> = (THREADS..THREADS + TASKS)
        .map(|seed| runtime.spawn(arm_and_watch(seed)))
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    for task in tasks {
        runtime.block_on(task).unwrap();
    }
    assert_eq!(runtime.block_on(async { armed_deadlines() }), 0);
}

/// Many threads creating and dropping children (with grandchildren,
/// waiters and after-funcs on them) of one long-lived parent, while others
/// poll `done()` futures on it and register and stop after-funcs: the
/// parent's registry is empty at the end (Go's lostcancel cannot happen),
/// every stopped after-func never ran and every other one ran once.
#[test]
fn child_churn_under_one_parent() {
    const CHURNERS: u64 = 4;
    const POLLERS: usize = 2;
    const ROUNDS: usize = 20_000;
    let (parent, cancel_parent) = Context::background().with_cancel();
    // Everyone starts at once, so the churn overlaps.
    let start = Arc::new(Barrier::new(CHURNERS as usize + POLLERS));
    let after_funcs_ran = Arc::new(AtomicUsize::new(0));
    let after_funcs_due = Arc::new(AtomicUsize::new(0));

    // Half the churners cancel inside a runtime, so their after-funcs go to
    // its blocking pool; the others', to threads of their own.
    let runtime = multi_thread_runtime();
    let churners: Vec<_> = (0..CHURNERS)
        .map(|seed| {
            let (parent, start) = (parent.clone(), start.clone());
            let (ran, due) = (after_funcs_ran.clone(), after_funcs_due.clone());
            let runtime = (seed % 2 == 0).then(|| runtime.handle().clone());
            thread::spawn(move || {
                let _entered = runtime.as_ref().map(|runtime| runtime.enter());
                let mut rng = Rng::with_seed(seed);
                start.wait();
                for _ in 0..ROUNDS {
                    let (child, cancel) = parent.with_cancel();
                    let (grandchild, _cancel_grandchild) = child.with_cancel();
                    let ran = ran.clone();
                    let stop = grandchild.after_func(move || {
                        ran.fetch_add(1, Ordering::SeqCst);
                    });
                    match rng.u8(..3) {
                        // Cancel, then drop: the after-func must run.
                        0 => {
                            cancel.cancel();
                            assert_eq!(grandchild.err(), Some(Error::Canceled));
                            due.fetch_add(1, Ordering::SeqCst);
                        }
                        // Stop the after-func, then drop everything.
                        1 => assert!(stop.stop(), "stopped on a live context"),
                        // Just drop: the last owner goes with the after-func
                        // registered, which cancels the child on the way out.
                        _ => {
                            due.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                }
            })
        })
        .collect();

    // Waiters on the parent itself: register, poll, drop, concurrently.
    let pollers: Vec<_> = (0..POLLERS)
        .map(|_| {
            let (parent, start) = (parent.clone(), start.clone());
            thread::spawn(move || {
                start.wait();
                let mut cx = TaskContext::from_waker(Waker::noop());
                let other = Waker::from(Arc::new(OtherTask));
                let mut other_cx = TaskContext::from_waker(&other);
                for i in 0..ROUNDS {
                    let mut done = Box::pin(parent.done());
                    assert!(done.as_mut().poll(&mut cx).is_pending());
                    if i % 2 == 0 {
                        // Re-poll from "another task" (a different waker).
                        assert!(done.as_mut().poll(&mut other_cx).is_pending());
                    }
                }
            })
        })
        .collect();

    for t in churners.into_iter().chain(pollers) {
        t.join().unwrap();
    }
    assert_eq!(parent.err(), None);
    assert_eq!(
        registrations(&parent),
        0,
        "a churned child stayed registered"
    );
    assert_after_funcs_ran(&after_funcs_ran, after_funcs_due.load(Ordering::SeqCst));
    cancel_parent.cancel();
    assert_eq!(parent.err(), Some(Error::Canceled));
}

/// The churn of [`child_churn_under_one_parent`] racing the parent's own
/// cancellation: children attach (when their grandchild is waited on) or
/// stay unattached, leave, and are born done after it; each one ends
/// canceled with the parent's cause or its own, agreed by child and
/// grandchild, and the parent's registry is empty.
#[test]
fn child_churn_vs_parent_cancel() {
    const CHURNERS: u64 = 4;
    const ROUNDS: usize = 1_000;
    for round in 0..50_u64 {
        let (parent, cancel_parent) = Context::background().with_cancel_cause();
        let start = Arc::new(Barrier::new(CHURNERS as usize + 1));
        let churners: Vec<_> = (0..CHURNERS)
            .map(|seed| {
                let (parent, start) = (parent.clone(), start.clone());
                thread::spawn(move || {
                    let mut rng = Rng::with_seed(seed ^ round);
                    start.wait();
                    for _ in 0..ROUNDS {
                        let (child, cancel) = parent.with_cancel_cause();
                        let (grandchild, _cancel_grandchild) = child.with_cancel();
                        if rng.bool() {
                            // Waited on once: attaches it, and its parent.
                            let waiting = std::pin::pin!(grandchild.done());
                            let _ = waiting.poll(&mut TaskContext::from_waker(Waker::noop()));
                        }
                        if rng.bool() {
                            cancel.cancel("child");
                        } else {
                            drop(cancel.drop_guard());
                        }
                        let cause = cause_text(&grandchild).unwrap();
                        assert!(
                            cause == "child" || cause == "parent" || cause == "context canceled",
                            "{cause}"
                        );
                        assert_eq!(cause_text(&child), Some(cause));
                    }
                })
            })
            .collect();
        start.wait();
        cancel_parent.cancel("parent");
        for t in churners {
            t.join().unwrap();
        }
        assert_eq!(cause_text(&parent).as_deref(), Some("parent"));
        assert_eq!(registrations(&parent), 0);
    }
}

/// Children whose context goes before their handle, some waited on once
/// (attached to the parent), some with an after-func whose handle is
/// dropped, churned while their parent is cancelled: a handle that finds
/// itself its child's last owner frees the child uncancelled unless
/// something is registered with it, racing the parent's walk, which may be
/// upgrading that child to cancel it. Every after-func runs exactly once
/// (by the walk or by its child's handle), and the parent keeps no entry.
#[test]
fn children_freed_by_their_handles_vs_parent_cancel() {
    const CHURNERS: u64 = 4;
    const ROUNDS: usize = 1_000;
    // After-funcs go to its blocking pool rather than threads of their own.
    let runtime = multi_thread_runtime();
    for round in 0..30_u64 {
        let (parent, cancel_parent) = Context::background().with_cancel();
        let start = Arc::new(Barrier::new(CHURNERS as usize + 1));
        let ran = Arc::new(AtomicUsize::new(0));
        let due = Arc::new(AtomicUsize::new(0));
        let churners: Vec<_> = (0..CHURNERS)
            .map(|seed| {
                let (parent, start) = (parent.clone(), start.clone());
                let (ran, due) = (ran.clone(), due.clone());
                let runtime = runtime.handle().clone();
                thread::spawn(move || {
                    let _entered = runtime.enter();
                    let mut rng = Rng::with_seed(seed ^ round);
                    start.wait();
                    for _ in 0..ROUNDS {
                        let (child, cancel) = parent.with_cancel();
                        if rng.bool() {
                            let waiting = std::pin::pin!(child.done());
                            let _ = waiting.poll(&mut TaskContext::from_waker(Waker::noop()));
                        }
                        if rng.bool() {
                            let ran = ran.clone();
                            drop(child.after_func(move || {
                                ran.fetch_add(1, Ordering::SeqCst);
                            }));
                            due.fetch_add(1, Ordering::SeqCst);
                        }
                        drop(child);
                        drop(cancel);
                    }
                })
            })
            .collect();
        start.wait();
        cancel_parent.cancel();
        for t in churners {
            t.join().unwrap();
        }
        assert_eq!(registrations(&parent), 0);
        assert_after_funcs_ran(&ran, due.load(Ordering::SeqCst));
    }
}

/// One context, thousands of waiters on a multi-thread runtime (`done()`,
/// `done_owned()` and `run()` of a never-ready future), canceled from a
/// plain thread while they are still registering: every one completes with
/// `Canceled`, and nothing stays registered.
#[test]
fn many_waiters_one_cancel() {
    const WAITERS: usize = 10_000;
    let runtime = multi_thread_runtime();
    for _ in 0..5 {
        let (ctx, cancel) = Context::background().with_cancel();
        let tasks: Vec<_> = (0..WAITERS)
            .map(|i| {
                let ctx = ctx.clone();
                runtime.spawn(async move {
                    match i % 3 {
                        0 => ctx.done().await,
                        1 => ctx.done_owned().await,
                        _ => ctx.run(std::future::pending::<()>()).await.unwrap_err(),
                    }
                })
            })
            .collect();
        thread::spawn(move || cancel.cancel()).join().unwrap();
        for task in tasks {
            assert_eq!(runtime.block_on(task).unwrap(), Error::Canceled);
        }
        assert_eq!(registrations(&ctx), 0);
    }
}

/// Tasks waiting on their own child or grandchild of one context, which
/// nothing else attached, while a plain thread cancels the context: each
/// wait attaches its chain as it registers, or finds the context done;
/// every task completes with the context's cause, and nothing stays
/// registered.
#[test]
fn waiters_on_unattached_descendants_one_cancel() {
    const WAITERS: usize = 5_000;
    let runtime = multi_thread_runtime();
    for _ in 0..5 {
        let (ctx, cancel) = Context::background().with_cancel_cause();
        let tasks: Vec<_> = (0..WAITERS)
            .map(|i| {
                let ctx = ctx.clone();
                runtime.spawn(async move {
                    let (child, _child_handle) = ctx.with_cancel();
                    let (grandchild, _grandchild_handle) = child.with_cancel();
                    let waited = if i % 2 == 0 { &child } else { &grandchild };
                    waited.done().await;
                    (cause_text(&child), cause_text(&grandchild))
                })
            })
            .collect();
        thread::spawn(move || cancel.cancel("shutdown"))
            .join()
            .unwrap();
        for task in tasks {
            let (child, grandchild) = runtime.block_on(task).unwrap();
            assert_eq!(child.as_deref(), Some("shutdown"));
            assert_eq!(grandchild.as_deref(), Some("shutdown"));
        }
        assert_eq!(registrations(&ctx), 0);
    }
}

/// `select!` loops, as servers write them, on a multi-thread runtime: each
/// task makes a new `done()` every turn and yields between turns, so tasks
/// interleave on the workers and take over, free and take back each
/// other's parked registrations; then each waits on `done()` alone while a
/// plain thread cancels the shared context. A third of the tasks loop on
/// the shared context, a third alternate between it and a child of their
/// own, and a third wait on it at once (taking over what a loop left parked
/// on their thread). Every task ends with the cancellation (a wake-up
/// delivered to the wrong task would leave one waiting forever), every own
/// child is done with it, and nothing stays registered.
#[test]
fn select_loops_one_cancel() {
    const TASKS: usize = 3_000;
    const TURNS: usize = 20;
    for _ in 0..5 {
        let runtime = multi_thread_runtime();
        let (ctx, cancel) = Context::background().with_cancel();
        let waiting = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let ctx = ctx.clone();
                let waiting = waiting.clone();
                runtime.spawn(async move {
                    let (own, own_handle) = ctx.with_cancel();
                    let (turns, alternate) = match i % 3 {
                        0 => (0, false),
                        1 => (TURNS, false),
                        _ => (TURNS, true),
                    };
                    for turn in 0.. {
                        let waited = if alternate && turn % 2 == 1 {
                            &own
                        } else {
                            &ctx
                        };
                        if turn == turns {
                            waiting.fetch_add(1, Ordering::SeqCst);
                        }
                        tokio::select! {
                            err = waited.done() => return (err, own, own_handle),
                            () = tokio::task::yield_now(), if turn < turns => {}
                        }
                    }
                    unreachable!("a loop that ends only with its context");
                })
            })
            .collect();
        while waiting.load(Ordering::SeqCst) < TASKS {
            thread::yield_now();
        }
        thread::spawn(move || cancel.cancel()).join().unwrap();
        for task in tasks {
            let (err, own, _own_handle) = runtime.block_on(task).unwrap();
            assert_eq!(err, Error::Canceled);
            // The cancel has returned: the whole subtree is done.
            assert_eq!(own.err(), Some(Error::Canceled));
            assert_eq!(registrations(&own), 0);
        }
        assert_eq!(registrations(&ctx), 0);
    }
}

/// Merges churned under two long-lived contexts, in both directions, by
/// many threads, each merge ended a random way (its handle cancelled, or
/// dropped uncancelled with or without its child cancelled) while other
/// threads wait on merges: neither context keeps a registration at the end (no lostcancel
/// for merges), and every waiter saw its merge end.
#[test]
fn merge_churn_under_two_contexts() {
    const CHURNERS: u64 = 4;
    const ROUNDS: usize = 20_000;
    let runtime = multi_thread_runtime();
    let (first, _cancel_first) = Context::background().with_cancel();
    let (second, _cancel_second) = Context::background().with_cancel();
    let start = Arc::new(Barrier::new(CHURNERS as usize));

    let churners: Vec<_> = (0..CHURNERS)
        .map(|seed| {
            let (first, second, start) = (first.clone(), second.clone(), start.clone());
            let runtime = runtime.handle().clone();
            thread::spawn(move || {
                let mut rng = Rng::with_seed(seed);
                start.wait();
                for round in 0..ROUNDS {
                    let (merged, cancel) = if rng.bool() {
                        first.merge(&second)
                    } else {
                        second.merge(&first)
                    };
                    let (grandchild, cancel_grandchild) = merged.with_cancel();
                    let ending = rng.u8(..3);
                    let waiter = (ending != 2 && round % 16 == 0)
                        .then(|| runtime.spawn(grandchild.done_owned()));
                    match ending {
                        // The merge cancelled by its handle.
                        0 => cancel.cancel(),
                        // The merge dropped, its child cancelled by its own
                        // handle: the merge is released with the child.
                        1 => {
                            drop((merged, cancel));
                            cancel_grandchild.cancel();
                        }
                        // Dropped uncancelled: released with its child below.
                        _ => drop((cancel, merged)),
                    }
                    let ended = (ending != 2).then_some(Error::Canceled);
                    assert_eq!(grandchild.err(), ended);
                    if let Some(waiter) = waiter {
                        assert_eq!(runtime.block_on(waiter).unwrap(), Error::Canceled);
                    }
                }
            })
        })
        .collect();
    for churner in churners {
        churner.join().unwrap();
    }
    assert_eq!((first.err(), second.err()), (None, None));
    assert_eq!(registrations(&first), 0, "a merge stayed a child");
    assert_eq!(registrations(&second), 0, "a merge stayed registered");
}

/// Merges between random pairs of a set of contexts, crossing in every
/// direction and nesting (merges of merges), each with a child and a
/// waiter, while every context of the set is canceled at once from its own
/// thread: no cancel waits for another forever (a deadlock hangs the
/// test), every merge ends with the cause of one of its two sides, every
/// waiter completes, and nothing stays registered.
#[test]
fn crossed_merges_under_simultaneous_cancels() {
    const ROUNDS: u64 = 100;
    const ROOTS: usize = 8;
    const MERGES: usize = 64;
    let runtime = multi_thread_runtime();

    for seed in 0..ROUNDS {
        let mut rng = Rng::with_seed(seed);
        let mut contexts = Vec::new();
        let mut cancels = Vec::new();
        for i in 0..ROOTS {
            let (ctx, cancel) = Context::background().with_cancel_cause();
            contexts.push((ctx, None));
            cancels.push((i, cancel));
        }
        let mut handles = Vec::new();
        let mut children = Vec::new();
        for _ in 0..MERGES {
            let (x, y) = (rng.usize(..contexts.len()), rng.usize(..contexts.len()));
            let (merged, handle) = contexts[x].0.merge(&contexts[y].0);
            let (child, child_handle) = merged.with_cancel();
            children.push((child, runtime.spawn(merged.done_owned())));
            handles.push((handle, child_handle));
            contexts.push((merged, Some((x, y))));
        }

        let cancellers = cancel_at_once(&mut rng, cancels);
        let _cancels: Vec<_> = cancellers.into_iter().map(|t| t.join().unwrap()).collect();

        for (child, waiter) in children {
            assert_eq!(
                runtime.block_on(waiter).unwrap(),
                Error::Canceled,
                "seed {seed}"
            );
            assert_eq!(child.err(), Some(Error::Canceled), "seed {seed}");
        }
        for (ctx, sides) in &contexts {
            assert_eq!(ctx.err(), Some(Error::Canceled), "seed {seed}: {ctx}");
            assert_eq!(registrations(ctx), 0, "seed {seed}: {ctx}");
            if let Some((x, y)) = *sides {
                let cause = cause_text(ctx);
                assert!(
                    cause == cause_text(&contexts[x].0) || cause == cause_text(&contexts[y].0),
                    "seed {seed}: {ctx} ended with {cause:?}, the cause of neither side"
                );
            }
        }
        drop(handles);
    }
}
