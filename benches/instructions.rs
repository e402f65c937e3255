//! One shape of the context tree, run N times on one thread: the binary
//! the instruction counts of BENCHMARKS.md ("where the time goes") are
//! taken from, under callgrind, which counts instructions whatever else the
//! machine is doing:
//!
//! ```text
//! cargo bench -p ctx-benches --bench instructions --no-run
//! valgrind --tool=callgrind target/release/deps/instructions-<hash> <shape> 100000
//! callgrind_annotate --inclusive=yes callgrind.out.<pid>
//! ```
//!
//! Run with no argument it lists the shapes. Divide the total by N after
//! subtracting a run with N = 0 (the runtime's start-up).

#![allow(missing_docs)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context as TaskContext, Waker};
use std::time::Duration;

use ctx::{ctx_fn, Context};
use tokio_util::sync::CancellationToken;

mod task_waker;

struct Fixture {
    /// WaitWake's runtime: one thread, the waiters' and the canceller's.
    current_thread: tokio::runtime::Runtime,
    background: Context<'static>,
    live: Context<'static>,
    /// A live context with a deadline an hour away.
    deadline: Context<'static>,
    token: CancellationToken,
    waker: Waker,
}

/// `with_cancel` on Background, then the context and the handle dropped,
/// in CancelTree's order (depth=1 Root=Background).
#[inline(never)]
fn child_of_background(f: &Fixture) {
    let (child, cancel) = f.background.with_cancel();
    drop(black_box(child));
    drop(cancel);
}

/// `with_cancel` under a live parent, then the handle and the context
/// dropped (ChildChurn/ctx): nothing waits on the child, so it never
/// touches its parent's registry.
#[inline(never)]
fn child_of_live_parent(f: &Fixture) {
    let (child, cancel) = f.live.with_cancel();
    drop(cancel);
    black_box(child);
}

/// tokio-util's child token made and dropped (ChildChurn/tokio_util).
#[inline(never)]
fn child_token(f: &Fixture) {
    black_box(f.token.child_token());
}

/// `with_timeout` on Background, cancelled by its handle (one context of
/// WithTimeout).
#[inline(never)]
fn timeout(f: &Fixture) {
    let (child, cancel) = f.background.with_timeout(Duration::from_secs(3600));
    drop(cancel);
    black_box(child);
}

/// One turn of a `select!` loop on `done()` (DoneInSelectLoop/ctx).
#[inline(never)]
fn done_in_select_loop(f: &Fixture) {
    let mut cx = TaskContext::from_waker(&f.waker);
    assert!(pin!(f.live.done()).poll(&mut cx).is_pending());
}

/// The same on tokio-util's `cancelled()` (DoneInSelectLoop/tokio_util).
#[inline(never)]
fn cancelled_in_select_loop(f: &Fixture) {
    let mut cx = TaskContext::from_waker(&f.waker);
    assert!(pin!(f.token.cancelled()).poll(&mut cx).is_pending());
}

/// A checked `.await` of a ready future (`run`, polled once) on a live
/// context no deadline applies to (ReadyAwait/run).
#[inline(never)]
fn ready_await(f: &Fixture) {
    checked_ready_await(&f.live);
}

/// The same on a context with a deadline, whose checks count toward
/// reading the clock.
#[inline(never)]
fn ready_await_under_deadline(f: &Fixture) {
    checked_ready_await(&f.deadline);
}

/// The same ready future polled without a check: what `ready_await` adds
/// to (ReadyAwait/plain).
#[inline(never)]
fn plain_ready_await(_: &Fixture) {
    let mut cx = TaskContext::from_waker(Waker::noop());
    let ready = pin!(std::future::ready(black_box(1_u64)));
    assert!(ready.poll(&mut cx).is_ready());
}

#[inline(never)]
async fn plain_fn(_ctx: Context<'_>, x: u64) -> Result<u64, ctx::Error> {
    Ok(std::future::ready(black_box(x)).await)
}

#[ctx_fn]
#[inline(never)]
async fn checked_fn(ctx: Context, x: u64) -> Result<u64, ctx::Error> {
    Ok(std::future::ready(black_box(x)).await)
}

/// An async fn taking a clone of a live context, awaiting one ready
/// future, called and polled once (ReadyAwait/plain_by_value).
#[inline(never)]
fn plain_call(f: &Fixture) {
    let mut cx = TaskContext::from_waker(Waker::noop());
    let call = pin!(plain_fn(f.live.clone(), 1));
    assert!(call.poll(&mut cx).is_ready());
}

/// The same fn as a `#[ctx_fn]` (ReadyAwait/ctx_fn_by_value): the
/// difference is its whole per-call cost, entry check and checked await.
#[inline(never)]
fn ctx_fn_call(f: &Fixture) {
    let mut cx = TaskContext::from_waker(Waker::noop());
    let call = pin!(checked_fn(f.live.clone(), 1));
    assert!(call.poll(&mut cx).is_ready());
}

fn checked_ready_await(ctx: &Context<'_>) {
    let mut cx = TaskContext::from_waker(Waker::noop());
    let run = pin!(ctx.run(std::future::ready(black_box(1_u64))));
    assert!(run.poll(&mut cx).is_ready());
}

/// A chain of 100 `with_cancel`s under Background, each handle dropped
/// innermost first (CancelTree depth=100 Root=Background): per op, one
/// context of a deep chain.
#[inline(never)]
fn chain_of_100(f: &Fixture) {
    let mut handles = Vec::with_capacity(100);
    let mut ctx = f.background.clone();
    for _ in 0..100 {
        let (child, cancel) = ctx.with_cancel();
        handles.push(cancel);
        ctx = child;
    }
    drop(ctx);
    while let Some(handle) = handles.pop() {
        drop(handle);
    }
}

/// The same chain of tokio-util's child tokens, dropped innermost first
/// (CancelTree depth=100 Root=Background against tokio-util).
#[inline(never)]
fn token_chain_of_100(_: &Fixture) {
    let mut tokens = Vec::with_capacity(100);
    let mut token = CancellationToken::new();
    for _ in 0..100 {
        token = token.child_token();
        tokens.push(token.clone());
    }
    drop(token);
    while let Some(token) = tokens.pop() {
        drop(token);
    }
}

/// 100 tasks waiting on one context, then woken by its cancel and joined
/// (WaitWake/ctx): per op, 100 waiters.
#[inline(never)]
fn wait_wake_100(f: &Fixture) {
    let (ctx, cancel) = f.background.with_cancel();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let done = ctx.done_owned();
            f.current_thread.spawn(async move {
                done.await;
            })
        })
        .collect();
    f.current_thread.block_on(async move {
        tokio::task::yield_now().await;
        cancel.cancel();
        for task in tasks {
            task.await.expect("waiter");
        }
    });
}

/// The same on tokio-util's `cancelled_owned()` (WaitWake/tokio_util).
#[inline(never)]
fn token_wait_wake_100(f: &Fixture) {
    let token = CancellationToken::new();
    let tasks: Vec<_> = (0..100)
        .map(|_| f.current_thread.spawn(token.clone().cancelled_owned()))
        .collect();
    f.current_thread.block_on(async move {
        tokio::task::yield_now().await;
        token.cancel();
        for task in tasks {
            task.await.expect("waiter");
        }
    });
}

type Shape = (&'static str, fn(&Fixture));

const SHAPES: [Shape; 15] = [
    ("child_of_background", child_of_background),
    ("child_of_live_parent", child_of_live_parent),
    ("child_token", child_token),
    ("timeout", timeout),
    ("done_in_select_loop", done_in_select_loop),
    ("cancelled_in_select_loop", cancelled_in_select_loop),
    ("chain_of_100", chain_of_100),
    ("plain_ready_await", plain_ready_await),
    ("ready_await", ready_await),
    ("ready_await_under_deadline", ready_await_under_deadline),
    ("plain_call", plain_call),
    ("ctx_fn_call", ctx_fn_call),
    ("token_chain_of_100", token_chain_of_100),
    ("wait_wake_100", wait_wake_100),
    ("token_wait_wake_100", token_wait_wake_100),
];

fn main() {
    let mut args = std::env::args().skip(1);
    // `cargo bench` runs every bench target with `--bench`: nothing to do.
    let (Some(name), Some(count)) = (args.next(), args.next()) else {
        let names: Vec<_> = SHAPES.iter().map(|(name, _)| *name).collect();
        eprintln!(
            "usage: instructions <shape> <count>; shapes: {}",
            names.join(", ")
        );
        return;
    };
    let Some((_, shape)) = SHAPES.iter().find(|(known, _)| *known == name) else {
        eprintln!("unknown shape {name}");
        std::process::exit(2);
    };
    let count: u64 = count.parse().expect("the count is a number");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let _entered = runtime.enter();
    let (live, _cancel_live) = Context::background().with_cancel();
    let (deadline, _cancel_deadline) =
        Context::background().with_timeout(Duration::from_secs(3600));
    let fixture = Fixture {
        current_thread: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("tokio runtime"),
        background: Context::background(),
        live,
        deadline,
        token: CancellationToken::new(),
        waker: task_waker::task_waker(),
    };
    for _ in 0..count {
        shape(&fixture);
    }
}
