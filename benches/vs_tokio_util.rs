//! `ctx` against tokio-util's `CancellationToken`, same shapes on both.
//!
//! Each group has a `ctx` and a `tokio_util` benchmark doing the same work:
//! - `ChildChurn`: a child created and dropped under one long-lived parent
//!   (the child and its `CancelHandle` dropped, uncancelled: it is freed;
//!   a child token's drop unlinks it), on 1 and 2 threads.
//! - `IsCancelledContended`: `is_done()` / `is_cancelled()` on 2 threads
//!   while a third thread keeps creating and dropping children of the same
//!   parent.
//! - `CancelSubtree`: cancelling a parent with 100,000 children (each
//!   child a live context/token held by the benchmark), timed from the
//!   cancel call until it returns (every child is then done). Each ctx
//!   child was waited on once, so it is attached to the parent and the
//!   cancel's walk reaches it; children nothing ever waited on cost the
//!   cancel nothing (each learns of it at its first check), which
//!   `CancelSubtree/ctx_unattached` shows.
//! - `WaitWake`: N tasks waiting on one context/token (current-thread
//!   runtime); timed from the cancel until every task has finished.
//! - `DoneInSelectLoop`: what each turn of a `tokio::select!` loop with a
//!   `ctx.done()` branch does to it: create the future, poll it once
//!   (pending) and drop it, with the waker of the thread's one task, on 1
//!   thread and on 2 threads (two tasks) with one shared context. The
//!   waker is a reference-counted one, as a task's is (a no-op waker would
//!   hide the clone).
//! - `DoneNewTaskEachTurn`: the same turn polled with a new task's waker
//!   every time (many tasks taking turns on one context), on 1 thread.

#![allow(missing_docs, non_snake_case)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use ctx::Context;
use divan::{black_box, AllocProfiler, Bencher};
use tokio_util::sync::CancellationToken;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

mod task_waker;
mod waited_on;

use waited_on::{done_turn, waited_on_once};

fn main() {
    divan::main();
}

mod ChildChurn {
    use super::*;

    #[divan::bench(threads = [1, 2], sample_size = 1000)]
    fn ctx(bencher: Bencher) {
        let (parent, _cancel) = Context::background().with_cancel();
        bencher.bench(|| {
            let (child, cancel) = parent.with_cancel();
            drop(cancel);
            black_box(child);
        });
    }

    #[divan::bench(threads = [1, 2], sample_size = 1000)]
    fn tokio_util(bencher: Bencher) {
        let parent = CancellationToken::new();
        bencher.bench(|| {
            let child = parent.child_token();
            black_box(child);
        });
    }
}

/// Runs `churn` on a third thread until the returned guard is dropped.
struct Churner {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Churner {
    fn start(mut churn: impl FnMut() + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                churn();
            }
        });
        Churner {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Churner {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("churner thread");
        }
    }
}

mod IsCancelledContended {
    use super::*;

    #[divan::bench(threads = [2], sample_size = 1000)]
    fn ctx(bencher: Bencher) {
        let (parent, _cancel) = Context::background().with_cancel();
        let churned = parent.clone();
        let _churner = Churner::start(move || {
            let (child, cancel) = churned.with_cancel();
            drop(cancel);
            black_box(child);
        });
        bencher.bench(|| black_box(&parent).is_done());
    }

    #[divan::bench(threads = [2], sample_size = 1000)]
    fn tokio_util(bencher: Bencher) {
        let parent = CancellationToken::new();
        let churned = parent.clone();
        let _churner = Churner::start(move || {
            black_box(churned.child_token());
        });
        bencher.bench(|| black_box(&parent).is_cancelled());
    }
}

/// [`done_turn`]'s turn on tokio-util's `cancelled()`.
#[inline]
fn cancelled_turn(token: &CancellationToken, waker: &std::task::Waker) {
    use std::future::Future;
    let mut cx = std::task::Context::from_waker(waker);
    assert!(std::pin::pin!(black_box(token).cancelled())
        .poll(&mut cx)
        .is_pending());
}

mod DoneInSelectLoop {
    use super::*;
    use crate::task_waker::task_waker;
    use std::task::Waker;

    thread_local! {
        /// The waker of the task this thread stands for.
        static TASK: Waker = task_waker();
    }

    #[divan::bench(threads = [1, 2], sample_size = 1000)]
    fn ctx(bencher: Bencher) {
        let (ctx, _cancel) = Context::background().with_cancel();
        bencher.bench(|| TASK.with(|waker| done_turn(&ctx, waker)));
    }

    #[divan::bench(threads = [1, 2], sample_size = 1000)]
    fn tokio_util(bencher: Bencher) {
        let token = CancellationToken::new();
        bencher.bench(|| TASK.with(|waker| cancelled_turn(&token, waker)));
    }
}

mod DoneNewTaskEachTurn {
    use super::*;
    use crate::task_waker::task_waker;

    #[divan::bench(sample_size = 1000)]
    fn ctx(bencher: Bencher) {
        let (ctx, _cancel) = Context::background().with_cancel();
        bencher
            .with_inputs(task_waker)
            .bench_refs(|waker| done_turn(&ctx, waker));
    }

    #[divan::bench(sample_size = 1000)]
    fn tokio_util(bencher: Bencher) {
        let token = CancellationToken::new();
        bencher
            .with_inputs(task_waker)
            .bench_refs(|waker| cancelled_turn(&token, waker));
    }
}

const SUBTREE: usize = 100_000;

mod CancelSubtree {
    use super::*;

    #[divan::bench(sample_count = 20, sample_size = 1)]
    fn ctx(bencher: Bencher) {
        bencher
            .with_inputs(|| {
                let (parent, cancel) = Context::background().with_cancel();
                let children: Vec<_> = (0..SUBTREE)
                    .map(|_| {
                        let child = parent.with_cancel();
                        waited_on_once(&child.0);
                        child
                    })
                    .collect();
                (cancel, children)
            })
            .bench_local_values(|(cancel, children)| {
                cancel.cancel();
                // Returned, so they are dropped after the timing.
                (cancel, children)
            });
    }

    #[divan::bench(sample_count = 20, sample_size = 1)]
    fn ctx_unattached(bencher: Bencher) {
        bencher
            .with_inputs(|| {
                let (parent, cancel) = Context::background().with_cancel();
                let children: Vec<_> = (0..SUBTREE).map(|_| parent.with_cancel()).collect();
                (cancel, children)
            })
            .bench_local_values(|(cancel, children)| {
                cancel.cancel();
                (cancel, children)
            });
    }

    #[divan::bench(sample_count = 20, sample_size = 1)]
    fn tokio_util(bencher: Bencher) {
        bencher
            .with_inputs(|| {
                let parent = CancellationToken::new();
                let children: Vec<_> = (0..SUBTREE).map(|_| parent.child_token()).collect();
                (parent, children)
            })
            .bench_local_values(|(parent, children)| {
                parent.cancel();
                (parent, children)
            });
    }
}

mod WaitWake {
    use super::*;
    use tokio::task::JoinHandle;

    const TASKS: [usize; 2] = [1_000, 100_000];

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime")
    }

    /// Spawns the waiters and lets each one poll (and register) once.
    fn spawn_waiters<F>(
        rt: &tokio::runtime::Runtime,
        n: usize,
        mut waiter: impl FnMut() -> F,
    ) -> Vec<JoinHandle<()>>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        rt.block_on(async {
            let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(waiter())).collect();
            tokio::task::yield_now().await;
            tasks
        })
    }

    #[divan::bench(args = TASKS, sample_count = 20, sample_size = 1)]
    fn ctx(bencher: Bencher, n: usize) {
        let rt = runtime();
        bencher
            .with_inputs(|| {
                let (ctx, cancel) = Context::background().with_cancel();
                let tasks = spawn_waiters(&rt, n, || {
                    let done = ctx.done_owned();
                    async move {
                        done.await;
                    }
                });
                (cancel, tasks)
            })
            .bench_local_values(|(cancel, tasks)| {
                rt.block_on(async move {
                    cancel.cancel();
                    for task in tasks {
                        task.await.expect("waiter");
                    }
                });
            });
    }

    #[divan::bench(args = TASKS, sample_count = 20, sample_size = 1)]
    fn tokio_util(bencher: Bencher, n: usize) {
        let rt = runtime();
        bencher
            .with_inputs(|| {
                let token = CancellationToken::new();
                let tasks = spawn_waiters(&rt, n, || {
                    let token = token.clone();
                    async move {
                        token.cancelled_owned().await;
                    }
                });
                (token, tasks)
            })
            .bench_local_values(|(token, tasks)| {
                rt.block_on(async move {
                    token.cancel();
                    for task in tasks {
                        task.await.expect("waiter");
                    }
                });
            });
    }
}
