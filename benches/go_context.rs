//! Go's own `context` benchmarks (`src/context/benchmark_test.go`), mirrored
//! by name and by shape so each compares one to one with `go test -bench .
//! context` run on the same machine (`scripts/bench-vs-go.sh` does both and
//! writes the table of `BENCHMARKS.md`).
//!
//! Naming: a divan group per Go benchmark, and a divan argument that prints
//! as Go's sub-benchmark path, so `CancelTree / depth=1000/Root=OpenCanceler`
//! here is `BenchmarkCancelTree/depth=1000/Root=OpenCanceler` there.
//!
//! Go's `RunParallel` benchmarks run here on `threads = 2` (the machine's 2
//! cores, Go's GOMAXPROCS). divan reports the time of one iteration *per
//! thread*; Go reports wall time divided by the iterations of all
//! goroutines, so the comparison script divides ours by the thread count.
//! Each sample of these runs 1,000 iterations (`sample_size`): left to
//! itself divan timed one ~200 ns iteration per sample, against a 20 ns
//! timer, and the medians were noise. `CancelTree` and
//! `DeepValueNewGoRoutine` run 100 per sample for the same reason (divan
//! sized some of their samples at one iteration, from a slow first one).
//!
//! Translation notes (each one keeps Go's shape):
//! - Go's `cancel` funcs are Rust's `CancelHandle`s; dropping one does not
//!   cancel, as discarding a cancel func does not. Where Go discards a
//!   cancel func (`root, _ = WithCancel(root)`), we keep the handles and
//!   drop them at the end of the op, innermost first, as scopes would.
//! - Go's values are keyed by `any` (the ints 0..depth, looked up with the
//!   missing key -1); ours are keyed by type, so depth `d` is `d` distinct
//!   key types `Key<0>`..`Key<d-1>`, looked up with the missing type `Miss`.
//! - Go's non-blocking `select { case <-ctx.Done(): default: }` is one poll
//!   of `ctx.done()` with a no-op waker (what `now_or_never` does).

#![allow(missing_docs, non_snake_case)]

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context as TaskContext, Waker};
use std::time::Duration;

use ctx::Context;
use divan::{black_box, AllocProfiler, Bencher};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

/// Go's `select { case <-ctx.Done(): default: }`: one poll of the done
/// future, never blocking.
#[inline]
fn done_now(ctx: &Context<'_>) -> bool {
    let mut cx = TaskContext::from_waker(Waker::noop());
    pin!(ctx.done()).poll(&mut cx).is_ready()
}

/// The runtime whose timer the deadline contexts use: 2 workers, Go's
/// GOMAXPROCS on this machine.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime")
    })
}

/// Enters [`runtime`] on the calling thread once (divan's bench threads are
/// not runtime threads), like a goroutine that is always in Go's runtime.
fn enter_runtime() {
    thread_local!(static ENTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
    ENTERED.with(|entered| {
        if !entered.get() {
            // Never dropped: the guard lives as long as the thread.
            std::mem::forget(runtime().enter());
            entered.set(true);
        }
    });
}

/// Go's busy work between the steps of CommonParentCancel, as Go runs it.
/// Its source divides 100 times (`x /= x + 1`), but `x` starts at 0 and
/// Go's compiler proves it stays 0: the benchmark binary (`go test -c
/// context`, disassembled) has no division in it, only a loop counting to
/// 100. So here too a loop counts to 100, kept by `black_box`; 100 real
/// dependent divisions (what this did before) cost ~1 µs per op that Go
/// never pays, and made this row a comparison of divisions.
#[inline]
fn spin() {
    for i in 0..100 {
        black_box(i);
    }
}

#[derive(Debug, PartialEq)]
struct Key(&'static str);

#[divan::bench(threads = [2], sample_size = 1000)]
fn CommonParentCancel(bencher: Bencher) {
    let root = Context::background().with_value(Key("value"));
    let (shared, _shared_cancel) = root.with_cancel();
    bencher.bench(|| {
        let (ctx, cancel) = shared.with_cancel();
        assert_eq!(ctx.value::<Key>(), Some(&Key("value")));
        spin();
        cancel.cancel();
        spin();
    });
}

#[derive(Clone, Copy)]
struct Concurrency(usize);

impl std::fmt::Display for Concurrency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "concurrency={}", self.0)
    }
}

const CONCURRENCY: [Concurrency; 3] = [Concurrency(40), Concurrency(4_000), Concurrency(400_000)];

/// `concurrency` live timeout contexts in the background, then each op
/// creates 10 timeout contexts and cancels them, on 2 threads.
#[divan::bench(args = CONCURRENCY, threads = [2], sample_size = 100)]
fn WithTimeout(bencher: Bencher, concurrency: Concurrency) {
    enter_runtime();
    let root = Context::background();
    let background: Vec<_> = (0..concurrency.0)
        .map(|_| root.with_timeout(Duration::from_secs(3600)))
        .collect();
    bencher.bench(|| {
        enter_runtime();
        let mut handles = Vec::with_capacity(10);
        for _ in 0..10 {
            handles.push(root.with_timeout(Duration::from_secs(3600)));
        }
        for (_ctx, cancel) in handles {
            cancel.cancel();
        }
    });
    drop(background);
}

#[derive(Clone, Copy)]
enum Root {
    Background,
    OpenCanceler,
    ClosedCanceler,
}

#[derive(Clone, Copy)]
struct Case(usize, Root);

impl std::fmt::Display for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let root = match self.1 {
            Root::Background => "Background",
            Root::OpenCanceler => "OpenCanceler",
            Root::ClosedCanceler => "ClosedCanceler",
        };
        write!(f, "depth={}/Root={root}", self.0)
    }
}

fn cancel_tree_cases() -> Vec<Case> {
    [1, 10, 100, 1000]
        .into_iter()
        .flat_map(|depth| {
            [Root::Background, Root::OpenCanceler, Root::ClosedCanceler]
                .map(|root| Case(depth, root))
        })
        .collect()
}

/// Go's `buildContextTree`: a chain of `depth` cancelable contexts. The
/// handles are kept in `handles` (Go discards its cancel funcs).
fn build(root: &Context<'_>, depth: usize, handles: &mut Vec<ctx::CancelHandle>) {
    let mut ctx = root.clone();
    for _ in 0..depth {
        let (child, cancel) = ctx.with_cancel();
        handles.push(cancel);
        ctx = child;
    }
}

/// Drops the handles innermost first, as nested scopes would.
fn release(handles: &mut Vec<ctx::CancelHandle>) {
    while let Some(handle) = handles.pop() {
        drop(handle);
    }
}

#[divan::bench(args = cancel_tree_cases(), sample_size = 100)]
fn CancelTree(bencher: Bencher, case: Case) {
    let Case(depth, root) = case;
    let mut handles = Vec::with_capacity(depth);
    bencher.bench_local(|| match root {
        Root::Background => {
            build(&Context::background(), depth, &mut handles);
            release(&mut handles);
        }
        Root::OpenCanceler => {
            let (ctx, cancel) = Context::background().with_cancel();
            build(&ctx, depth, &mut handles);
            cancel.cancel();
            release(&mut handles);
        }
        Root::ClosedCanceler => {
            let (ctx, cancel) = Context::background().with_cancel();
            cancel.cancel();
            build(&ctx, depth, &mut handles);
            release(&mut handles);
        }
    });
}

mod CheckCanceled {
    use super::*;

    #[divan::bench]
    fn Err(bencher: Bencher) {
        let (ctx, cancel) = Context::background().with_cancel();
        cancel.cancel();
        bencher.bench_local(|| black_box(&ctx).err());
    }

    #[divan::bench]
    fn Done(bencher: Bencher) {
        let (ctx, cancel) = Context::background().with_cancel();
        cancel.cancel();
        bencher.bench_local(|| done_now(black_box(&ctx)));
    }
}

/// A live context's done future polled once on 2 threads at a time.
#[divan::bench(threads = [2], sample_size = 1000)]
fn ContextCancelDone(bencher: Bencher) {
    let (ctx, _cancel) = Context::background().with_cancel();
    bencher.bench(|| done_now(black_box(&ctx)));
}

/// The same check, as `is_done()`: what Rust code that does not need a
/// future writes instead of polling `done()`.
#[divan::bench(threads = [2], sample_size = 1000)]
fn ContextCancelDone_is_done(bencher: Bencher) {
    let (ctx, _cancel) = Context::background().with_cancel();
    bencher.bench(|| black_box(&ctx).is_done());
}

/// Value keys: a distinct type per depth.
struct K<const N: usize>;
/// The key never set: Go's `ctx.Value(-1)`.
struct Miss;

macro_rules! deep_values {
    ($ctx:ident, $depth:expr; $($n:literal)*) => {
        $( if $n < $depth { $ctx = $ctx.with_value(K::<$n>); } )*
    };
}

/// A context carrying `depth` values of distinct types.
fn deep(depth: usize) -> Context<'static> {
    assert!(depth <= 100);
    let mut ctx = Context::background();
    deep_values!(ctx, depth;
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
        30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56
        57 58 59 60 61 62 63 64 65 66 67 68 69 70 71 72 73 74 75 76 77 78 79 80 81 82 83
        84 85 86 87 88 89 90 91 92 93 94 95 96 97 98 99);
    ctx
}

#[derive(Clone, Copy)]
struct Depth(usize);

impl std::fmt::Display for Depth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "depth={}", self.0)
    }
}

const VALUE_DEPTHS: [Depth; 5] = [Depth(10), Depth(20), Depth(30), Depth(50), Depth(100)];

/// A missing key looked up at `depth`, on the calling thread.
#[divan::bench(args = VALUE_DEPTHS)]
fn DeepValueSameGoRoutine(bencher: Bencher, depth: Depth) {
    let ctx = deep(depth.0);
    bencher.bench_local(|| black_box(&ctx).value::<Miss>().is_some());
}

/// The same lookup in a new tokio task, awaited. Go's new goroutine runs on
/// the spawner's P while the spawner waits, so the analogue is a task on a
/// current-thread runtime: spawn, switch to it, run it, join it. The
/// spawner is a task too, as Go's benchmark is a goroutine: `tokio::spawn`
/// inside the runtime queues the task locally, where `Runtime::spawn` from
/// outside it goes through the runtime's shared queue under a lock.
/// Go's closure shares the context with the goroutine; here the task
/// borrows it for `'static` (leaked once per depth), rather than taking a
/// clone, which Go's version does not pay for.
#[divan::bench(args = VALUE_DEPTHS, sample_size = 100)]
fn DeepValueNewGoRoutine(bencher: Bencher, depth: Depth) {
    let ctx: &'static Context<'static> = Box::leak(Box::new(deep(depth.0)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    bencher.bench_local(|| {
        rt.block_on(async move {
            tokio::spawn(async move { ctx.value::<Miss>().is_some() })
                .await
                .expect("the lookup task does not panic")
        })
    });
}

/// DeepValueNewGoRoutine's task without the context: what tokio's spawn
/// and join cost by themselves, against which the lookup's share is read.
#[divan::bench(sample_size = 100)]
fn DeepValueNewGoRoutine_without_context(bencher: Bencher) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    bencher.bench_local(|| {
        rt.block_on(async {
            tokio::spawn(async { black_box(false) })
                .await
                .expect("the empty task does not panic")
        })
    });
}

#[divan::bench]
fn ErrOK(bencher: Bencher) {
    let (ctx, _cancel) = Context::background().with_cancel();
    bencher.bench_local(|| assert!(black_box(&ctx).err().is_none()));
}

#[divan::bench]
fn ErrCanceled(bencher: Bencher) {
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.cancel();
    bencher.bench_local(|| assert!(black_box(&ctx).err().is_some()));
}

/// The same shapes on tokio-util's `CancellationToken`, where it has the
/// feature (no deadlines, no values): `tokio_util / X` compares with `X`.
mod tokio_util {
    use super::*;
    use ::tokio_util::sync::CancellationToken;

    fn canceled() -> CancellationToken {
        let token = CancellationToken::new();
        token.cancel();
        token
    }

    fn done_now(token: &CancellationToken) -> bool {
        let mut cx = TaskContext::from_waker(Waker::noop());
        pin!(token.cancelled()).poll(&mut cx).is_ready()
    }

    #[divan::bench(threads = [2], sample_size = 1000)]
    fn CommonParentCancel(bencher: Bencher) {
        let shared = CancellationToken::new();
        bencher.bench(|| {
            let child = shared.child_token();
            spin();
            child.cancel();
            spin();
        });
    }

    #[divan::bench(args = cancel_tree_cases(), sample_size = 100)]
    fn CancelTree(bencher: Bencher, case: Case) {
        let Case(depth, root) = case;
        let mut tokens = Vec::with_capacity(depth);
        let build = |root: &CancellationToken, tokens: &mut Vec<CancellationToken>| {
            let mut token = root.clone();
            for _ in 0..depth {
                token = token.child_token();
                tokens.push(token.clone());
            }
        };
        let release = |tokens: &mut Vec<CancellationToken>| {
            while let Some(token) = tokens.pop() {
                drop(token);
            }
        };
        bencher.bench_local(|| match root {
            // tokio-util has no never-canceled root: a fresh token stands
            // for Background.
            Root::Background => {
                build(&CancellationToken::new(), &mut tokens);
                release(&mut tokens);
            }
            Root::OpenCanceler => {
                let root = CancellationToken::new();
                build(&root, &mut tokens);
                root.cancel();
                release(&mut tokens);
            }
            Root::ClosedCanceler => {
                let root = canceled();
                build(&root, &mut tokens);
                release(&mut tokens);
            }
        });
    }

    mod CheckCanceled {
        use super::*;

        #[divan::bench]
        fn Err(bencher: Bencher) {
            let token = canceled();
            bencher.bench_local(|| black_box(&token).is_cancelled());
        }

        #[divan::bench]
        fn Done(bencher: Bencher) {
            let token = canceled();
            bencher.bench_local(|| done_now(black_box(&token)));
        }
    }

    #[divan::bench(threads = [2], sample_size = 1000)]
    fn ContextCancelDone(bencher: Bencher) {
        let token = CancellationToken::new();
        bencher.bench(|| done_now(black_box(&token)));
    }

    #[divan::bench(threads = [2], sample_size = 1000)]
    fn ContextCancelDone_is_done(bencher: Bencher) {
        let token = CancellationToken::new();
        bencher.bench(|| black_box(&token).is_cancelled());
    }

    #[divan::bench]
    fn ErrOK(bencher: Bencher) {
        let token = CancellationToken::new();
        bencher.bench_local(|| assert!(!black_box(&token).is_cancelled()));
    }

    #[divan::bench]
    fn ErrCanceled(bencher: Bencher) {
        let token = canceled();
        bencher.bench_local(|| assert!(black_box(&token).is_cancelled()));
    }
}
