//! Loom models of every race in the cancellation tree.
//!
//! Built only with `--cfg ctx_loom`, which swaps the tree's mutexes and
//! atomics for loom's (see `src/sync.rs`), so loom explores every
//! interleaving of the lock and atomic operations the protocol of
//! `src/node/` relies on. Each model is one race, named after it:
//!
//! | model | race |
//! |---|---|
//! | [`cancel_vs_attach`] | `with_cancel` on a parent being canceled (invariants 2, 9: a child is born done or done when looked at, never missed) |
//! | [`cancel_vs_child_drop`] | a child's cancel-and-drop (leaving its parent) against the parent's cancel (invariants 3, 5) |
//! | [`parent_cancel_vs_child_freed_by_its_handle`] | the same with the child never cancelled, its context dropped first: its handle, the last owner, frees it, leaving the parent as the parent's walk may upgrade it |
//! | [`attach_vs_detach`] | two children of a live parent, one attaching while the other leaves: the registry's free list and slot reuse |
//! | [`slot_reuse_vs_late_drop`] | a canceled child's slot reused by a new child while the old child's last reference drops elsewhere |
//! | [`concurrent_cancels`] | two cancels of one node with different causes (invariant 1: first cause sticks) |
//! | [`parent_cancel_vs_child_cancel`] | a parent's cancel descending into a child that is being canceled by its own handle |
//! | [`lock_free_cancel_vs_join`] | a child nothing was registered with, ended by its handle without its lock, while a waiter joins it to its parent under both locks (invariant 5: no entry left behind) |
//! | [`disengaged_child_cancel_vs_waiter`] | an attached child whose registry emptied, ended again without its lock by its handle, while a waiter engages it anew (invariant 1: the registration is woken or refused; the child leaves its parent) |
//! | [`disengage_vs_cancel`] | a child attached, waited on and disengaged on one thread while its handle cancels it on another: canceled, and no entry left in the parent |
//! | [`done_vs_cancel`] | a `done()` future registering its waker while the context is canceled (lost wake-up) |
//! | [`done_rewake_vs_cancel`] | a `done()` future re-polled from another task (waker replaced in place) while canceled |
//! | [`done_drop_vs_cancel`] | a pending `done()` future dropped (its registration parked with the dropping thread, freed when that thread exits) while canceled |
//! | [`parked_done_vs_cancel`] | a `select!` loop's next `done()` taking back the registration its previous turn parked, while canceled (lost wake-up) |
//! | [`parked_takeover_vs_cancel`] | another task's `done()` taking over a parked registration (waker replaced in place) while canceled: the new waker is the one woken |
//! | [`parked_release_vs_cancel`] | a parked registration freed (the thread parks one on another context) while its context is canceled: the slot is freed once |
//! | [`after_func_vs_cancel`] | `after_func` registering while the context is canceled: runs exactly once |
//! | [`after_func_vs_handle_dropped_last`] | `after_func` registered from a context dropped meanwhile, while the other owners are dropped uncancelled: the last owner cancels on the way out, and the function runs exactly once |
//! | [`after_func_stop_vs_cancel`] | `AfterFuncHandle::stop` against cancel: `stop() == true` XOR the function ran |
//! | [`run_pending_vs_cancel`] | `run()` of a never-ready future against cancel: always completes with the error |
//! | [`run_ready_vs_cancel`] | `run()` of a future completed by a third thread against cancel: completes either way, consistently |
//! | [`merge_vs_cancel_of_the_first`] | `merge` while its first context is canceled: the merge is a child registered or born done, and keeps no entry in the second (invariant 8) |
//! | [`merge_vs_cancel_of_the_second`] | `merge` while its second context is canceled: the entry is taken by the cancel or refused, never missed, and the merge leaves its first context |
//! | [`merge_drop_vs_cancel_of_the_second`] | a merge cancelled and dropped while its second context is canceled: the entry is freed once, by one of them |
//! | [`crossed_merges_vs_both_cancels`] | `a.merge(b)` and `b.merge(a)`, each with a child, as both are canceled: no walk waits for the other (the deadlock invariant 8 rules out) |
//!
//! A missed wake-up shows as a loom deadlock (the `block_on` thread parked
//! with nobody left to unpark it), a double free of a slot as a panic in
//! the registry, and every model asserts the end state: errors, causes,
//! how many times after-funcs ran, and that every registry is empty.
//!
//! Deadlines use tokio's timer, which loom cannot drive: they are covered
//! by the stress tests (`tests/stress.rs` of the facade crate). After-funcs
//! run inline under loom, on the cancelling thread once its locks are
//! released, where a normal build hands them to another thread (loom
//! cannot drive Tokio's blocking pool or `std::thread`; see
//! `src/after_func.rs`): the models check what is decided under the lock,
//! that each runs exactly once and `stop()` is true exactly when it
//! prevented the run.
//!
//! Run (the preemption bound defaults to [`DEFAULT_PREEMPTIONS`];
//! `LOOM_MAX_PREEMPTIONS` overrides it):
//!
//! ```text
//! RUSTFLAGS="--cfg ctx_loom" CARGO_TARGET_DIR=target/loom \
//!     cargo test -p goctx-core --release --test loom
//! ```
#![cfg(ctx_loom)]

use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use ctx_core::testing::registrations;
use ctx_core::{AfterFuncHandle, Context, Error};
use loom::future::{block_on, AtomicWaker};
use loom::sync::atomic::AtomicBool;
use loom::thread;

/// Preemptions per execution when `LOOM_MAX_PREEMPTIONS` is not set.
///
/// Each thread here makes only a handful of lock and atomic operations, so
/// every model but one is explored exhaustively at any bound. The exception
/// is [`run_ready_vs_cancel`], three threads plus loom's `AtomicWaker`,
/// whose cost grows about fourfold per preemption; 5 keeps the suite within
/// seconds.
const DEFAULT_PREEMPTIONS: usize = 5;

/// Runs `f` under loom with the suite's preemption bound.
fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(DEFAULT_PREEMPTIONS);
    }
    builder.check(f);
}

/// Attaches `ctx` to its parent as real code does, by waiting on it: a
/// `done()` future polled once registers (then, dropped, parks its
/// registration with the thread).
fn attach(ctx: &Context<'_>) {
    assert!(select_turn(ctx, &mut TaskContext::from_waker(Waker::noop())).is_pending());
}

fn cause_text(ctx: &Context<'_>) -> Option<String> {
    ctx.cause().map(|cause| cause.to_string())
}

/// Registers an after-func on `ctx` that counts its runs in `runs`.
fn counting_after_func(ctx: &Context<'_>, runs: &Arc<AtomicUsize>) -> AfterFuncHandle {
    let runs = runs.clone();
    ctx.after_func(move || {
        runs.fetch_add(1, Ordering::SeqCst);
    })
}

/// `with_cancel` (and a grandchild below it) on a parent canceled
/// concurrently: whichever way the race goes (made first and done from the
/// parent when looked at, or born done), the child ends canceled with the
/// parent's cause, and the parent keeps no registration.
#[test]
fn cancel_vs_attach() {
    model(|| {
        let (parent, cancel) = Context::background().with_cancel_cause();
        let canceller = thread::spawn(move || {
            cancel.cancel("parent");
            cancel
        });
        let attacher = {
            let parent = parent.clone();
            thread::spawn(move || {
                let (child, child_handle) = parent.with_cancel();
                let (grandchild, grandchild_handle) = child.with_cancel();
                (child, child_handle, grandchild, grandchild_handle)
            })
        };
        let _cancel = canceller.join().unwrap();
        let (child, _child_handle, grandchild, _grandchild_handle) = attacher.join().unwrap();

        for ctx in [&parent, &child, &grandchild] {
            assert_eq!(ctx.err(), Some(Error::Canceled));
            assert_eq!(cause_text(ctx).as_deref(), Some("parent"));
            assert_eq!(registrations(ctx), 0, "{ctx:?} kept a registration");
        }
    });
}

/// A child cancelled and dropped (by its handle, then the node's drop) while
/// its parent is canceled: the child's leave-parent and the parent's
/// take-all must not both free the slot, neither may deadlock, and the
/// parent ends with an empty registry. A second, surviving child checks the
/// parent's cancel still reaches what was not dropped.
#[test]
fn cancel_vs_child_drop() {
    child_drop_vs_parent_cancel(DropOrder::CancelledFirst);
}

/// The same with the child never cancelled, its context dropped before its
/// handle: the handle, its last owner, frees it (nothing is registered
/// with it), so the node leaves its parent as it is dropped, while the
/// parent's walk may be upgrading it to cancel it.
#[test]
fn parent_cancel_vs_child_freed_by_its_handle() {
    child_drop_vs_parent_cancel(DropOrder::DroppedUncancelled);
}

/// How a child leaves: cancelled by its handle, then dropped, or dropped
/// (context first) without a cancel.
#[derive(Clone, Copy)]
enum DropOrder {
    CancelledFirst,
    DroppedUncancelled,
}

/// One execution of a parent's cancel racing the drop of an attached child.
fn child_drop_vs_parent_cancel(order: DropOrder) {
    model(move || {
        let (parent, cancel) = Context::background().with_cancel();
        let (leaving, leaving_handle) = parent.with_cancel();
        let (staying, _staying_handle) = parent.with_cancel();
        attach(&leaving);
        attach(&staying);
        assert_eq!(registrations(&parent), 2);

        let canceller = thread::spawn(move || cancel.cancel());
        let dropper = thread::spawn(move || match order {
            DropOrder::CancelledFirst => {
                leaving_handle.cancel();
                drop((leaving_handle, leaving));
            }
            DropOrder::DroppedUncancelled => drop((leaving, leaving_handle)),
        });
        canceller.join().unwrap();
        dropper.join().unwrap();

        assert_eq!(parent.err(), Some(Error::Canceled));
        assert_eq!(staying.err(), Some(Error::Canceled));
        assert_eq!(registrations(&parent), 0);
    });
}

/// One child attaches to a live parent while another leaves it: the slab's
/// free list must hand out each slot once, so after both are gone the
/// parent holds nothing, and while the new child lives it holds exactly it.
#[test]
fn attach_vs_detach() {
    model(|| {
        let (parent, _cancel) = Context::background().with_cancel();
        let (leaving, leaving_handle) = parent.with_cancel();
        attach(&leaving);

        let attacher = {
            let parent = parent.clone();
            thread::spawn(move || {
                let child = parent.with_cancel();
                attach(&child.0);
                child
            })
        };
        let dropper = thread::spawn(move || {
            drop(leaving_handle);
            drop(leaving);
        });
        let (child, child_handle) = attacher.join().unwrap();
        dropper.join().unwrap();

        assert_eq!(registrations(&parent), 1, "only the new child");
        assert_eq!(child.err(), None);
        child_handle.cancel();
        assert_eq!(child.err(), Some(Error::Canceled));
        assert_eq!(
            parent.err(),
            None,
            "a child's cancel never reaches its parent"
        );
        assert_eq!(registrations(&parent), 0);
    });
}

/// A canceled child's slot reused by a new child while the canceled one's
/// last reference is dropped on another thread: the late drop must not
/// free the slot again (it now belongs to the new child), or the new child
/// would fall out of its parent's registry and miss the parent's cancel.
#[test]
fn slot_reuse_vs_late_drop() {
    model(|| {
        let (parent, cancel_parent) = Context::background().with_cancel();
        let (old, old_handle) = parent.with_cancel();
        attach(&old);
        let old_clone = old.clone();

        let canceller = thread::spawn(move || {
            old_handle.cancel();
            drop(old_handle);
            drop(old);
        });
        let attacher = {
            let parent = parent.clone();
            thread::spawn(move || {
                let child = parent.with_cancel();
                attach(&child.0);
                child
            })
        };
        drop(old_clone);
        canceller.join().unwrap();
        let (new, _new_handle) = attacher.join().unwrap();

        assert_eq!(new.err(), None);
        assert_eq!(registrations(&parent), 1, "only the new child");
        cancel_parent.cancel();
        assert_eq!(
            new.err(),
            Some(Error::Canceled),
            "the parent's cancel missed it"
        );
    });
}

/// Two cancels of one node with different causes: exactly one cause
/// sticks, and everyone agrees on it — each canceller reading it right
/// after its own cancel returned, an observer reading it at any point of
/// the race (once `err()` says done, the cause is already the final one),
/// a child, and the main thread at the end.
#[test]
fn concurrent_cancels() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel_cause();
        let (child, _child_handle) = ctx.with_cancel();
        let cancel = Arc::new(cancel);

        let cancellers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|cause| {
                let (ctx, cancel) = (ctx.clone(), cancel.clone());
                thread::spawn(move || {
                    cancel.cancel(cause);
                    // Done when cancel returns, with the winning cause.
                    assert_eq!(ctx.err(), Some(Error::Canceled));
                    cause_text(&ctx).unwrap()
                })
            })
            .collect();
        let observer = {
            let child = child.clone();
            thread::spawn(move || cause_text(&child))
        };
        let seen: Vec<String> = cancellers.into_iter().map(|t| t.join().unwrap()).collect();
        let observed = observer.join().unwrap();

        let winner = cause_text(&ctx).unwrap();
        assert!(winner == "a" || winner == "b", "cause {winner:?}");
        assert_eq!(seen, [winner.clone(), winner.clone()]);
        if let Some(observed) = observed {
            assert_eq!(
                observed, winner,
                "an observer saw a cause that did not stick"
            );
        }
        assert_eq!(cause_text(&child).as_deref(), Some(winner.as_str()));
        assert_eq!(registrations(&ctx), 0);
    });
}

/// A parent's cancel racing the child's own handle, the child and the
/// grandchild attached to their parents (the walk reaches them): the first
/// cancellation to reach the child wins (if the child was already done
/// when its handle fired, its cause is the parent's), the parent's cause
/// never changes, and a grandchild agrees with its parent, whoever looked.
#[test]
fn parent_cancel_vs_child_cancel() {
    model(|| parent_vs_child_cancel(Attached::Yes));
}

/// The same race with nothing waiting on the child or the grandchild, so
/// neither is attached and only looking makes them done from the parent
/// (invariant 9): the child's own cancel must still lose to a parent
/// already done, and what anyone saw must stick.
#[test]
fn parent_cancel_vs_unattached_child_cancel() {
    model(|| parent_vs_child_cancel(Attached::No));
}

#[derive(Clone, Copy, PartialEq)]
enum Attached {
    Yes,
    No,
}

/// One execution of a parent's cancel racing its child's.
fn parent_vs_child_cancel(attached: Attached) {
    let (parent, cancel_parent) = Context::background().with_cancel_cause();
    let (child, cancel_child) = parent.with_cancel_cause();
    let (grandchild, _grandchild_handle) = child.with_cancel();
    if attached == Attached::Yes {
        attach(&child);
        attach(&grandchild);
    }

    let parent_canceller = {
        let grandchild = grandchild.clone();
        thread::spawn(move || {
            cancel_parent.cancel("parent");
            // Done now, from one of the two cancels.
            (cause_text(&grandchild).unwrap(), cancel_parent)
        })
    };
    let child_canceller = {
        let child = child.clone();
        thread::spawn(move || {
            let already_done = child.is_done();
            cancel_child.cancel("child");
            (already_done, cancel_cause_of(&child), cancel_child)
        })
    };
    let (grandchild_seen, _cancel_parent) = parent_canceller.join().unwrap();
    let (child_was_done, child_seen, _cancel_child) = child_canceller.join().unwrap();

    assert_eq!(cause_text(&parent).as_deref(), Some("parent"));
    let child_cause = cause_text(&child).unwrap();
    if child_was_done {
        assert_eq!(child_cause, "parent", "the parent reached the child first");
    } else {
        assert!(child_cause == "parent" || child_cause == "child");
    }
    assert_eq!(child_seen, child_cause, "the child's cause changed");
    assert_eq!(
        grandchild_seen, child_cause,
        "the grandchild's cause changed"
    );
    assert_eq!(cause_text(&grandchild), Some(child_cause));
    for ctx in [&parent, &child, &grandchild] {
        assert_eq!(ctx.err(), Some(Error::Canceled));
        assert_eq!(registrations(ctx), 0);
    }
}

fn cancel_cause_of(ctx: &Context<'_>) -> String {
    cause_text(ctx).expect("done after its own cancel")
}

/// Go's `cancel` returns only once the whole subtree is done, also when
/// another thread's cancellation reached the node first and is still on
/// its way down: here the child's own cancel may find the child already
/// made done by the parent's canceller, and must wait for the grandchild.
#[test]
fn cancel_returns_with_its_subtree_done() {
    model(|| {
        let (parent, cancel_parent) = Context::background().with_cancel();
        let (child, cancel_child) = parent.with_cancel();
        let (grandchild, _grandchild_handle) = child.with_cancel();
        let parent_canceller = thread::spawn(move || cancel_parent.cancel());
        cancel_child.cancel();
        assert!(
            grandchild.is_done(),
            "cancel returned before its subtree was done"
        );
        parent_canceller.join().unwrap();
    });
}

/// A `done()` future on a child nothing had attached, polled while its
/// parent is canceled: registering attaches the child first, so either the
/// parent's walk reaches its waiter, or the attach finds the parent done
/// and makes the child done; never a waiter that nobody wakes (loom
/// reports a deadlock).
#[test]
fn done_on_unattached_child_vs_parent_cancel() {
    model(|| {
        let (parent, cancel) = Context::background().with_cancel();
        let (child, _child_handle) = parent.with_cancel();
        let canceller = thread::spawn(move || cancel.cancel());
        assert_eq!(block_on(child.done()), Error::Canceled);
        canceller.join().unwrap();
        assert_eq!(registrations(&parent), 0);
        assert_eq!(registrations(&child), 0);
    });
}

/// A child nothing was registered with, whose handle ends it by one
/// compare-and-swap without its lock, while another thread waits on it,
/// which engages it and joins it to its parent under both locks: either
/// the join comes first, and the cancel takes the child's lock and leaves
/// the parent, or the cancel does, and the waiter finds the child done and
/// does not join. The parent keeps no entry (invariant 5), and the waiter
/// completes.
#[test]
fn lock_free_cancel_vs_join() {
    model(|| {
        let (parent, _cancel) = Context::background().with_cancel();
        let (child, child_handle) = parent.with_cancel();
        let canceller = thread::spawn(move || child_handle.cancel());
        assert_eq!(block_on(child.done()), Error::Canceled);
        canceller.join().unwrap();
        assert_eq!(registrations(&parent), 0, "the child left no entry");
        assert_eq!(parent.err(), None);
    });
}

/// A child waited on once and then not any more: attached to its parent,
/// its registry emptied (the thread parked another registration, which
/// freed its one), so its handle ends it again by one compare-and-swap,
/// while another thread registers a new waiter on it, which engages it
/// again: either the waiter engages it first, and the cancel takes its
/// lock and wakes it, or the cancel does, and the waiter finds it done.
/// The waiter completes, and the child leaves its parent either way (its
/// slot, written before it was disengaged, is seen by the lock-free end).
#[test]
fn disengaged_child_cancel_vs_waiter() {
    model(|| {
        let (parent, _cancel) = Context::background().with_cancel();
        let (child, child_handle) = parent.with_cancel();
        let (other, _other_handle) = parent.with_cancel();
        attach(&child);
        attach(&other);
        assert_eq!(registrations(&child), 0, "the child holds nothing");
        assert_eq!(registrations(&parent), 2);

        let canceller = thread::spawn(move || child_handle.cancel());
        assert_eq!(block_on(child.done()), Error::Canceled);
        canceller.join().unwrap();
        assert_eq!(registrations(&parent), 1, "the child left its entry");
        assert_eq!(registrations(&child), 0);
    });
}

/// A child attached, waited on and disengaged (its registry emptied) by
/// one thread while its handle cancels it on another: whichever state the
/// cancel finds (live and never engaged, engaged, or disengaged again), the
/// child ends canceled and keeps no entry in its parent. A cancel that
/// ends it without its lock after it was disengaged must see the slot its
/// join wrote: the disengaging read-modify-write publishes it.
#[test]
fn disengage_vs_cancel() {
    model(|| {
        let (parent, _cancel) = Context::background().with_cancel();
        let (child, child_handle) = parent.with_cancel();
        let (other, _other_handle) = parent.with_cancel();
        let canceller = thread::spawn(move || child_handle.cancel());
        // Pending, or ready if the cancel came first.
        let _ = select_turn(&child, &mut TaskContext::from_waker(Waker::noop()));
        attach(&other);
        canceller.join().unwrap();
        assert_eq!(child.err(), Some(Error::Canceled));
        assert_eq!(registrations(&parent), 1, "only the other child");
    });
}

/// A `done()` future polled while the context is canceled: the check of the
/// state and the registration of the waker must not let the cancel slip
/// between them, or `block_on` parks forever (loom reports a deadlock).
#[test]
fn done_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let canceller = thread::spawn(move || cancel.cancel());
        assert_eq!(block_on(ctx.done()), Error::Canceled);
        canceller.join().unwrap();
        assert_eq!(registrations(&ctx), 0);
    });
}

/// A `done()` future first polled with one waker, then driven by another
/// task (`block_on`'s waker): the waker is replaced in its slot, racing the
/// cancel that takes the slot. The new waker must be the one woken.
#[test]
fn done_rewake_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let canceller = thread::spawn(move || cancel.cancel());

        let mut done = Box::pin(ctx.done_owned());
        let first = poll_once(done.as_mut(), Waker::noop());
        let err = match first {
            Poll::Ready(err) => err,
            Poll::Pending => block_on(done),
        };
        assert_eq!(err, Error::Canceled);
        canceller.join().unwrap();
        assert_eq!(registrations(&ctx), 0);
    });
}

/// A pending `done()` future dropped while the context is canceled: the
/// owner's deregistration and the canceller's take-all free the slot once
/// between them, and nothing is left registered.
#[test]
fn done_drop_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let mut done = Box::pin(ctx.done_owned());
        let first = poll_once(done.as_mut(), Waker::noop());
        assert!(first.is_pending(), "nothing has canceled yet");
        assert_eq!(registrations(&ctx), 1);

        let canceller = thread::spawn(move || cancel.cancel());
        let dropper = thread::spawn(move || drop(done));
        canceller.join().unwrap();
        dropper.join().unwrap();

        assert_eq!(ctx.err(), Some(Error::Canceled));
        assert_eq!(registrations(&ctx), 0);
    });
}

/// One turn of a `select!` loop's `done()` branch: made, polled once,
/// dropped (its registration, if it made one, parked with the thread).
fn select_turn(ctx: &Context<'_>, cx: &mut TaskContext<'_>) -> Poll<Error> {
    std::pin::pin!(ctx.done()).poll(cx)
}

/// Two turns of a `select!` loop on one task while the context is
/// canceled: the second turn's `done()` takes back the registration the
/// first parked, without the lock, so the cancel must either be seen by
/// its check or wake the task through the parked waker.
#[test]
fn parked_done_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let canceller = thread::spawn(move || cancel.cancel());
        let err = block_on(async {
            if let Poll::Ready(err) =
                std::future::poll_fn(|cx| Poll::Ready(select_turn(&ctx, cx))).await
            {
                return err;
            }
            ctx.done().await
        });
        assert_eq!(err, Error::Canceled);
        canceller.join().unwrap();
        assert_eq!(registrations(&ctx), 0);
    });
}

/// A registration parked by one task (a no-op waker) taken over by
/// another (`block_on`'s) while the context is canceled: the waker is
/// replaced in the slot the cancel takes, and the new one must be woken.
#[test]
fn parked_takeover_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let canceller = thread::spawn(move || cancel.cancel());
        let err = match select_turn(&ctx, &mut TaskContext::from_waker(Waker::noop())) {
            Poll::Ready(err) => err,
            Poll::Pending => block_on(ctx.done()),
        };
        assert_eq!(err, Error::Canceled);
        canceller.join().unwrap();
        assert_eq!(registrations(&ctx), 0);
    });
}

/// A thread parks a registration on `a`, then one on `b`, which frees the
/// first while `a` is canceled: the thread's release and the cancel's
/// take-all free the slot once between them.
#[test]
fn parked_release_vs_cancel() {
    model(|| {
        let (a, cancel_a) = Context::background().with_cancel();
        let (b, _cancel_b) = Context::background().with_cancel();
        let mut cx = TaskContext::from_waker(Waker::noop());
        assert!(
            select_turn(&a, &mut cx).is_pending(),
            "nothing has canceled yet"
        );
        let canceller = thread::spawn(move || cancel_a.cancel());
        assert!(select_turn(&b, &mut cx).is_pending());
        canceller.join().unwrap();

        assert_eq!(a.err(), Some(Error::Canceled));
        assert_eq!(registrations(&a), 0);
        assert_eq!(registrations(&b), 1, "b's, parked");
    });
}

/// A thread parks a registration on a context, then cancels it while
/// another thread cancels it too: the parking thread frees its parked
/// registration itself, the other's cancel may take it first, and the slot
/// is freed once between them, with the context done when both return.
#[test]
fn parked_freed_by_its_thread_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let cancel = Arc::new(cancel);
        let other = Arc::clone(&cancel);
        assert!(
            select_turn(&ctx, &mut TaskContext::from_waker(Waker::noop())).is_pending(),
            "nothing has canceled yet"
        );
        let canceller = thread::spawn(move || other.cancel());
        cancel.cancel();
        canceller.join().unwrap();

        assert_eq!(ctx.err(), Some(Error::Canceled));
        assert_eq!(registrations(&ctx), 0);
    });
}

/// `after_func` registered while the context is canceled: the function runs
/// exactly once, whether the canceller finds it registered or the
/// registration finds the context done and runs it at once.
#[test]
fn after_func_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let runs = Arc::new(AtomicUsize::new(0));

        let canceller = thread::spawn(move || cancel.cancel());
        let registrar = {
            let (ctx, runs) = (ctx.clone(), runs.clone());
            thread::spawn(move || counting_after_func(&ctx, &runs))
        };
        canceller.join().unwrap();
        let handle = registrar.join().unwrap();

        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(!handle.stop(), "the function ran: stop prevented nothing");
        assert_eq!(registrations(&ctx), 0);
    });
}

/// An after-func registered from another thread, which then lets go of
/// the context and of the after-func's handle, while the other context and
/// the cancel handle are dropped, never cancelled: whichever owner goes
/// last finds the function registered and cancels the context on the way
/// out (invariant 10), so the function runs exactly once.
#[test]
fn after_func_vs_handle_dropped_last() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let runs = Arc::new(AtomicUsize::new(0));

        let registrar = {
            let (ctx, runs) = (ctx.clone(), runs.clone());
            thread::spawn(move || drop(counting_after_func(&ctx, &runs)))
        };
        let dropper = thread::spawn(move || drop((ctx, cancel)));
        registrar.join().unwrap();
        dropper.join().unwrap();

        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

/// `stop()` against cancel: either `stop` unregistered the function (true)
/// and it never runs, or the cancel took it (stop says false) and it ran
/// once. Never both, never neither.
#[test]
fn after_func_stop_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let runs = Arc::new(AtomicUsize::new(0));
        let handle = counting_after_func(&ctx, &runs);

        let canceller = thread::spawn(move || cancel.cancel());
        let stopper = thread::spawn(move || handle.stop());
        canceller.join().unwrap();
        let stopped = stopper.join().unwrap();

        let ran = runs.load(Ordering::SeqCst);
        assert!(ran <= 1, "ran {ran} times");
        assert!(
            stopped != (ran == 1),
            "stop() = {stopped} but ran {ran} times"
        );
        assert_eq!(ctx.err(), Some(Error::Canceled));
        assert_eq!(registrations(&ctx), 0);
    });
}

/// `run()` of a future that is never ready, racing a cancel: it completes
/// with the context's error (the waker registered after the inner poll is
/// never missed) and drops the inner future.
#[test]
fn run_pending_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let canceller = thread::spawn(move || cancel.cancel());
        assert_eq!(block_on(ctx.run(pending::<()>())), Err(Error::Canceled));
        canceller.join().unwrap();
        assert_eq!(registrations(&ctx), 0);
    });
}

/// `run()` of a future made ready by one thread while another cancels: it
/// always completes (whichever wakes it), with `Ok` or with the error, and
/// `Err` only once the context is done. The context is checked first, so a
/// cancel that finished before the flag was set leaves no room for `Ok`.
#[test]
fn run_ready_vs_cancel() {
    model(|| {
        let (ctx, cancel) = Context::background().with_cancel();
        let flag = Arc::new(Flag::default());

        let canceller = thread::spawn(move || cancel.cancel());
        let setter = {
            let flag = flag.clone();
            thread::spawn(move || flag.set())
        };
        let result = block_on(ctx.run(FlagWait(&flag)));
        canceller.join().unwrap();
        setter.join().unwrap();

        match result {
            Ok(()) => assert!(flag.is_set()),
            Err(err) => {
                assert_eq!(err, Error::Canceled);
                assert_eq!(ctx.err(), Some(Error::Canceled));
            }
        }
        assert_eq!(registrations(&ctx), 0);
    });
}

/// `merge` racing the cancel of its first context: whichever way it goes
/// (a child reached by the cancel, or born done and then removing the
/// entry it made in the second context), the merge ends with the first
/// context's cause and neither context keeps a registration.
#[test]
fn merge_vs_cancel_of_the_first() {
    model(|| merge_vs_cancel_of(Side::First));
}

/// `merge` racing the cancel of its second context: the cancel takes the
/// merge's entry and cancels it after its walk, or the registration is
/// refused and the merge is born done; either way with the second
/// context's cause, before both threads are done, and the merge has left
/// its first context.
#[test]
fn merge_vs_cancel_of_the_second() {
    model(|| merge_vs_cancel_of(Side::Second));
}

/// One of the two contexts of a merge.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    First,
    Second,
}

/// One execution of `merge` racing the cancel of its `cancelled` side.
fn merge_vs_cancel_of(cancelled: Side) {
    let (first, cancel_first) = Context::background().with_cancel_cause();
    let (second, cancel_second) = Context::background().with_cancel_cause();
    let (cancel, cause, kept) = match cancelled {
        Side::First => (cancel_first, "first", cancel_second),
        Side::Second => (cancel_second, "second", cancel_first),
    };
    let canceller = thread::spawn(move || {
        cancel.cancel(cause);
        cancel
    });
    let merger = {
        let (first, second) = (first.clone(), second.clone());
        thread::spawn(move || first.merge(&second))
    };
    let _cancel = canceller.join().unwrap();
    let (merged, _merged_handle) = merger.join().unwrap();

    assert_eq!(merged.err(), Some(Error::Canceled));
    assert_eq!(cause_text(&merged).as_deref(), Some(cause));
    let live = if cancelled == Side::First {
        &second
    } else {
        &first
    };
    assert_eq!(live.err(), None, "a merge never cancels its contexts");
    assert_eq!(registrations(&first), 0, "the merge stayed a child");
    assert_eq!(registrations(&second), 0, "the merge's entry stayed");
    drop(kept);
}

/// A live merge dropped (its handle, then its context, the last owner,
/// which cancels it on the way out: its record of the second context is
/// registered with it) while its second context is canceled: the merge's removal of its entry and
/// the cancel's take-all free the slot once between them, a cancel that
/// finds the merge gone skips it, and neither context keeps anything.
#[test]
fn merge_drop_vs_cancel_of_the_second() {
    model(|| {
        let (first, _cancel_first) = Context::background().with_cancel();
        let (second, cancel) = Context::background().with_cancel();
        let (merged, merged_handle) = first.merge(&second);
        assert_eq!(registrations(&second), 1);

        let canceller = thread::spawn(move || cancel.cancel());
        let dropper = thread::spawn(move || {
            drop(merged_handle);
            drop(merged);
        });
        canceller.join().unwrap();
        dropper.join().unwrap();

        assert_eq!(second.err(), Some(Error::Canceled));
        assert_eq!(first.err(), None);
        assert_eq!(registrations(&first), 0);
        assert_eq!(registrations(&second), 0);
    });
}

/// Two merges crossing each other, `a.merge(b)` and `b.merge(a)`, each
/// with a child, and the registries ordered so that each walk meets its
/// own child merge last: if walks descended into merges, each cancel
/// could make one merge done, then wait for the other thread to finish the
/// other, forever. Here every context ends canceled with a cause of one
/// of the two, and nothing stays registered.
#[test]
fn crossed_merges_vs_both_cancels() {
    model(|| {
        let (a, cancel_a) = Context::background().with_cancel_cause();
        let (b, cancel_b) = Context::background().with_cancel_cause();
        // A placeholder child frees its slot in `a` before `b.merge(a)`
        // takes it: `a`'s registry then lists that merge before its own.
        let placeholder = a.with_cancel();
        let (ab, _ab_handle) = a.merge(&b);
        drop(placeholder);
        let (ba, _ba_handle) = b.merge(&a);
        let (ab_child, _ab_child_handle) = ab.with_cancel();
        let (ba_child, _ba_child_handle) = ba.with_cancel();

        let a_canceller = thread::spawn(move || cancel_a.cancel("a"));
        let b_canceller = thread::spawn(move || cancel_b.cancel("b"));
        a_canceller.join().unwrap();
        b_canceller.join().unwrap();

        for (merge, child) in [(&ab, &ab_child), (&ba, &ba_child)] {
            let cause = cause_text(merge).unwrap();
            assert!(cause == "a" || cause == "b", "{cause}");
            assert_eq!(cause_text(child), Some(cause));
        }
        for ctx in [&a, &b, &ab, &ba, &ab_child, &ba_child] {
            assert_eq!(ctx.err(), Some(Error::Canceled));
            assert_eq!(registrations(ctx), 0, "{ctx}");
        }
    });
}

fn poll_once<F: Future + ?Sized>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut TaskContext::from_waker(waker))
}

/// A one-shot event on loom's primitives: `set` by one thread, awaited by
/// [`FlagWait`].
#[derive(Default)]
struct Flag {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl Flag {
    fn set(&self) {
        self.set.store(true, loom::sync::atomic::Ordering::Release);
        self.waker.wake();
    }

    fn is_set(&self) -> bool {
        self.set.load(loom::sync::atomic::Ordering::Acquire)
    }
}

struct FlagWait<'a>(&'a Flag);

impl Future for FlagWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        self.0.waker.register_by_ref(cx.waker());
        if self.0.is_set() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}
