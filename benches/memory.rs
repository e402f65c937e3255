//! Memory and scale: bytes per node, 10,000,000 children churned under one
//! parent, 1,000,000 tasks woken by one cancellation. Not a divan suite: it
//! prints one markdown table (`cargo bench -p ctx-benches --bench memory`),
//! which `scripts/bench-vs-go.sh` appends to `BENCHMARKS.md`.
//!
//! A counting global allocator tracks live bytes, the peak of live bytes,
//! and the number of allocations.
//!
//! `CTX_MEMORY_SCALE` divides the big sizes (10M, 1M) for a quick run.

#![allow(missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use ctx::Context;
use ctx_core::testing::registrations;
use tokio_util::sync::CancellationToken;

mod waited_on;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting on the way.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_sub(layout.size(), Relaxed);
        count_alloc(new_size);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count_alloc(size: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Live bytes and allocation count now.
fn snapshot() -> (usize, usize) {
    (LIVE.load(Relaxed), ALLOCS.load(Relaxed))
}

fn reset_peak() -> usize {
    let live = LIVE.load(Relaxed);
    PEAK.store(live, Relaxed);
    live
}

fn scale() -> usize {
    std::env::var("CTX_MEMORY_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
        .max(1)
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Bytes and allocations per item for `n` items made by `make` and kept.
fn per_item<T>(n: usize, mut make: impl FnMut() -> T) -> (f64, f64) {
    let mut kept = Vec::with_capacity(n);
    let (bytes0, allocs0) = snapshot();
    for _ in 0..n {
        kept.push(make());
    }
    let (bytes1, allocs1) = snapshot();
    drop(kept);
    (
        (bytes1 - bytes0) as f64 / n as f64,
        (allocs1 - allocs0) as f64 / n as f64,
    )
}

fn row(what: &str, ours: String, tokio_util: String, note: &str) {
    println!("| {what} | {ours} | {tokio_util} | {note} |");
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    let scale = scale();
    println!("| measurement | ctx | tokio-util | note |");
    println!("|---|---|---|---|");

    // Bytes per node: 10,000 children of one parent, kept alive; the heap
    // growth divided by 10,000 (node, and its slot in the parent).
    let (parent, _cancel) = Context::background().with_cancel();
    let (bytes, allocs) = per_item(10_000, || parent.with_cancel());
    let token = CancellationToken::new();
    let (t_bytes, t_allocs) = per_item(10_000, || token.child_token());
    row(
        "bytes per cancelable node (child of a live parent)",
        format!("{bytes:.1} B, {allocs:.2} allocs"),
        format!("{t_bytes:.1} B, {t_allocs:.2} allocs"),
        "heap growth per child: nothing waits on it, so it has no slot in the parent",
    );
    let (bytes, allocs) = per_item(10_000, || {
        let child = parent.with_cancel();
        waited_on::waited_on_once(&child.0);
        child
    });
    row(
        "bytes per cancelable node (child of a live parent, waited on)",
        format!("{bytes:.1} B, {allocs:.2} allocs"),
        "-".into(),
        "its slot in the parent included",
    );
    let root = Context::background();
    let (bytes, allocs) = per_item(10_000, || root.with_cancel());
    row(
        "bytes per cancelable node (child of Background)",
        format!("{bytes:.1} B, {allocs:.2} allocs"),
        "-".into(),
        "no parent registry",
    );
    let (bytes, allocs) = per_item(10_000, || root.with_value(7_u64));
    row(
        "bytes per value node (`with_value(u64)` on Background)",
        format!("{bytes:.1} B, {allocs:.2} allocs"),
        "-".into(),
        "the node with its table of 1, and the value",
    );
    let five = root
        .with_value(1_u8)
        .with_value(2_u16)
        .with_value(3_u32)
        .with_value(4_i8);
    let (bytes, allocs) = per_item(10_000, || five.with_value(7_u64));
    row(
        "bytes per value node (5th value)",
        format!("{bytes:.1} B, {allocs:.2} allocs"),
        "-".into(),
        "the table of 5 is copied (a lookup is O(log n) at any depth)",
    );
    drop(five);

    // 10,000,000 children created and dropped under one long-lived parent.
    let n = 10_000_000 / scale;
    let (parent, _cancel) = Context::background().with_cancel();
    let before = reset_peak();
    let start = Instant::now();
    for _ in 0..n {
        let (child, cancel) = parent.with_cancel();
        drop(cancel);
        drop(child);
    }
    let elapsed = start.elapsed();
    let peak = PEAK.load(Relaxed) - before;
    let after = LIVE.load(Relaxed) - before;
    let token = CancellationToken::new();
    let t_before = reset_peak();
    let t_start = Instant::now();
    for _ in 0..n {
        drop(token.child_token());
    }
    let t_elapsed = t_start.elapsed();
    let t_peak = PEAK.load(Relaxed) - t_before;
    let t_after = LIVE.load(Relaxed) - t_before;
    row(
        &format!("{n} children created and dropped under one parent"),
        format!(
            "{}, peak +{} B, after +{} B, {} registrations left",
            ms(elapsed),
            peak,
            after,
            registrations(&parent)
        ),
        format!(
            "{}, peak +{} B, after +{} B",
            ms(t_elapsed),
            t_peak,
            t_after
        ),
        "memory flat: the peak is one child",
    );

    // 1,000,000 tasks waiting on one context: time to cancel and wake them.
    let n = 1_000_000 / scale;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let (ours, ours_mem) = rt.block_on(async {
        let (ctx, cancel) = Context::background().with_cancel();
        let before = reset_peak();
        let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(ctx.done_owned())).collect();
        // Every waiter registered: all polled once.
        while registrations(&ctx) < n {
            tokio::task::yield_now().await;
        }
        let mem = LIVE.load(Relaxed) - before;
        let start = Instant::now();
        cancel.cancel();
        let mut woken = 0;
        for task in tasks {
            task.await.expect("waiter");
            woken += 1;
        }
        assert_eq!(woken, n);
        (start.elapsed(), mem)
    });
    let (theirs, theirs_mem) = rt.block_on(async {
        let token = CancellationToken::new();
        let before = reset_peak();
        let tasks: Vec<_> = (0..n)
            .map(|_| tokio::spawn(token.clone().cancelled_owned()))
            .collect();
        // Give every waiter its first poll.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        let mem = LIVE.load(Relaxed) - before;
        let start = Instant::now();
        token.cancel();
        for task in tasks {
            task.await.expect("waiter");
        }
        (start.elapsed(), mem)
    });
    row(
        &format!("{n} tasks waiting on one context: cancel until all woken and joined"),
        format!("{}, {} while waiting", ms(ours), mib(ours_mem)),
        format!("{}, {} while waiting", ms(theirs), mib(theirs_mem)),
        "multi-thread runtime, 2 workers; every waiter wakes",
    );
}
