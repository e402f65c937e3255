//! No lostcancel: a child's place in its parent is reclaimed when the
//! child ends, and its timer's soon after, so a long-lived parent that
//! sees millions of short-lived children keeps nothing of them. Memory is
//! measured with a global allocator that counts each thread's own live
//! bytes, so the test harness's other threads do not blur the measurement.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use ctx_core::testing::{armed_deadlines, registrations};
use ctx_core::Context;

struct Counting;

thread_local! {
    // Const-initialized and without a destructor: usable from inside the
    // allocator, on any thread, at any point of its life.
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + delta));
}

// SAFETY: forwards every call to the system allocator unchanged; the
// counter is only bookkeeping.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        // SAFETY: the caller's contract for `layout` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        // SAFETY: `ptr` was allocated by `System` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Attaches `ctx` to its parent as real code does, by waiting on it: a
/// `done()` future polled once registers (then, dropped, parks its
/// registration with the thread).
fn attach(ctx: &Context<'_>) {
    use std::future::Future;
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(std::pin::pin!(ctx.done()).poll(&mut cx).is_pending());
}

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

#[test]
fn a_million_children_leave_nothing_in_their_parent() {
    let (parent, _cancel) = Context::background().with_value(7_u32).with_cancel();
    // The parent's registry is allocated with its first child, once.
    drop(parent.with_cancel());
    let before = live_bytes();
    for _ in 0..1_000_000 {
        let (child, cancel) = parent.with_cancel();
        let grandchild = child.with_value(1_u8);
        assert!(!grandchild.is_done());
        drop((child, cancel, grandchild));
    }
    assert_eq!(registrations(&parent), 0);
    assert_eq!(live_bytes(), before, "memory did not grow");
}

/// The same for merges of two contexts that are never done: each merge is
/// a child of one and registered with the other, and ending it, whichever
/// of its context and its handle goes first, takes it out of both.
#[test]
fn a_million_merges_leave_nothing_in_either_side() {
    let (first, _cancel_first) = Context::background().with_value(7_u32).with_cancel();
    let (second, _cancel_second) = Context::background().with_cancel();
    // Both registries are allocated with the first merge, once.
    drop(first.merge(&second));
    let before = live_bytes();
    for i in 0..1_000_000 {
        let (merged, cancel) = first.merge(&second);
        let grandchild = merged.with_value(1_u8);
        assert!(!grandchild.is_done());
        if i % 2 == 0 {
            drop((cancel, merged, grandchild));
        } else {
            drop((grandchild, merged, cancel));
        }
    }
    assert_eq!(registrations(&first), 0);
    assert_eq!(registrations(&second), 0);
    assert_eq!(live_bytes(), before, "memory did not grow");
}

#[test]
fn children_dropped_together_are_all_reclaimed() {
    let (parent, _cancel) = Context::background().with_cancel();
    // The parent's registry, once.
    let first = parent.with_cancel();
    attach(&first.0);
    drop(first);
    let before = live_bytes();
    let children: Vec<_> = (0..100_000)
        .map(|_| {
            let child = parent.with_cancel();
            attach(&child.0);
            child
        })
        .collect();
    assert_eq!(registrations(&parent), 100_000);
    drop(children);
    assert_eq!(registrations(&parent), 0);
    assert!(live_bytes() <= before, "the registry gives its memory back");
}

/// A deadline's entry in its thread's shard outlives its context until the
/// shard next prunes or sweeps it: abandoned deadline children leave at
/// most a constant behind, whether there were ten thousand of them or a
/// hundred thousand.
#[tokio::test(start_paused = true)]
async fn abandoned_deadline_children_leave_a_bounded_remainder() {
    /// Room for a sweep's worth of dropped contexts' entries (64 of them,
    /// each keeping its node's allocation until pruned or swept).
    const REMAINDER: isize = 16 * 1024;
    let (parent, _cancel) = Context::background().with_cancel();
    // This thread's deadline shard, once.
    drop(parent.with_timeout(Duration::from_secs(3600)));
    let before = live_bytes();
    for churned in [10_000, 100_000] {
        for _ in 0..churned {
            let (child, cancel) = parent.with_timeout(Duration::from_secs(3600));
            drop((child, cancel));
        }
        assert_eq!(registrations(&parent), 0);
        assert_eq!(
            armed_deadlines(),
            0,
            "no deadline of a dropped context is left armed"
        );
        let left = live_bytes() - before;
        assert!(
            left <= REMAINDER,
            "{left} bytes left after {churned} abandoned deadlines"
        );
    }
}

#[test]
fn roots_and_clones_allocate_nothing() {
    let (cancelable, _cancel) = Context::background().with_cancel();
    let before = live_bytes();
    let roots = [Context::background(), Context::todo()];
    let clones = [cancelable.clone(), roots[0].clone()];
    assert_eq!(live_bytes(), before);
    drop((roots, clones));
}
