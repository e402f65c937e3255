//! Cancellation: ending a node and walking its subtree.
//!
//! Kept here: invariant 6 (a cancel returns with its subtree done), 7
//! (after-funcs start off the canceller's stack) and 8 (no walk descends
//! through a merge). The walk descends iteratively, with an explicit stack,
//! so a deep chain cannot overflow the canceller's stack; it holds no lock
//! while it descends (invariant 4).

use std::mem;
use std::task::Waker;

use smallvec::SmallVec;

use crate::after_func::{self, AfterFunc};
use crate::error::{Cause, Error};
use crate::parked;
use crate::sync::{lock, yield_now, Arc, Ordering, Weak};

use super::slab::{Entries, Entry, NO_SLOT};
use super::state::{cause_bits, encode, keeps_cause, Finish, HOLDS, PROPAGATED};
use super::CancelNode;

impl CancelNode {
    /// Cancels this node and every descendant with `err` and `cause`, and
    /// removes it from its parent (invariant 5). Only the first
    /// cancellation of a node has any effect: its error and cause stick,
    /// and a node whose ancestor is already done is done with that
    /// ancestor's (invariant 9), as in Go, where the ancestor's cancellation
    /// would have reached it first. Either way, when this returns the whole
    /// subtree is done (invariant 6), and so are the merged contexts it
    /// reached if this call made the node done (invariant 8); a call that
    /// finds the node made done by another thread may return before those
    /// merged contexts are.
    pub(crate) fn cancel(&self, err: Error, cause: Option<Cause>) {
        // Looking makes a node whose ancestor is done done from it; then
        // this cancellation, like any later one, only waits for its
        // propagation.
        self.err();
        let cause_bits = cause_bits(&cause);
        if !keeps_cause(cause_bits)
            && matches!(self.end_unengaged(err, cause_bits), Some(Finish::Leaf))
        {
            // The common end of a request's context: a leaf, nothing to
            // walk, and its cause (if any) a static one, in its state.
            self.leave_parent();
            return;
        }
        // A waiter this thread parked here waits for nothing: its future is
        // gone (`parked.rs`). Freed by this thread, its new owner
        // (invariant 3), rather than woken, it costs its task no spurious
        // poll, and a node it alone engaged (a request's context after its
        // handler awaited on it) ends without a walk.
        if let Some(parked) = parked::take(self) {
            self.deregister(parked.slot);
        }
        self.cancel_subtree(err, cause);
    }

    /// Cancels this node and its subtree with `err` and `cause`, whatever
    /// its ancestors' state: [`cancel`](Self::cancel) once it has looked at
    /// them, and the cancellation a parent hands down.
    pub(super) fn cancel_subtree(&self, err: Error, cause: Option<Cause>) {
        if let Some(merged) = self.cancel_tree(err, cause.clone()) {
            cancel_merged(merged, err, cause);
        }
    }

    /// Cancels this node and its subtree, as [`cancel_subtree`](Self::cancel_subtree), but
    /// hands back the merged contexts the walk reached through their second
    /// parent (if it reached any) instead of cancelling them.
    fn cancel_tree(&self, err: Error, cause: Option<Cause>) -> Option<Vec<Weak<CancelNode>>> {
        match self.finish(err, cause.clone()) {
            Finish::Leaf => {
                self.leave_parent();
                None
            }
            Finish::Notify(entries) => {
                // Still in its parent's registry while it propagates, as
                // in Go: a parent's cancel that comes meanwhile finds it
                // and waits for its subtree, so that it too returns with
                // every descendant done (invariant 6).
                let merged = notify(self, entries, err, cause);
                self.leave_parent();
                (!merged.is_empty()).then_some(merged)
            }
            Finish::AlreadyDone => {
                self.wait_propagated();
                None
            }
        }
    }

    /// Waits until the thread that made this node done has made every
    /// descendant done too (relies on invariant 6). That thread holds no
    /// lock and runs no user code until it is finished (see [`notify`]),
    /// and waits only for nodes below this one, so the wait always ends.
    fn wait_propagated(&self) {
        while self.state.load(Ordering::Acquire) & PROPAGATED == 0 {
            yield_now();
        }
    }

    /// Marks the node propagated: every descendant is done (invariant 6).
    fn mark_propagated(&self) {
        self.state.fetch_or(PROPAGATED, Ordering::Release);
    }

    /// Marks the node done and takes its registrations, if it was live
    /// (invariant 1). A node that had none has no descendant either: it is
    /// marked propagated in the same store.
    pub(super) fn finish(&self, err: Error, cause: Option<Cause>) -> Finish {
        let cause_bits = cause_bits(&cause);
        let keeps_cause = keeps_cause(cause_bits);
        if !keeps_cause {
            if let Some(finish) = self.end_unengaged(err, cause_bits) {
                return finish;
            }
        }
        let mut shared = lock(&self.shared);
        // A node nothing was registered with ends the same way under the
        // lock, where a cause is kept (another cancellation may still end
        // it without the lock meanwhile); an engaged one stays live while
        // the lock is held.
        let finish = match self.end_unengaged(err, cause_bits) {
            Some(finish) => finish,
            None => {
                let entries = match shared.as_mut() {
                    Some(shared) if self.flags.load(Ordering::Relaxed) & HOLDS != 0 => {
                        shared.registry.take()
                    }
                    _ => None,
                };
                let done = match entries {
                    Some(_) => encode(err),
                    None => encode(err) | PROPAGATED,
                } | cause_bits;
                self.state.store(done, Ordering::Release);
                entries.map_or(Finish::Leaf, Finish::Notify)
            }
        };
        if keeps_cause && !matches!(finish, Finish::AlreadyDone) {
            shared.get_or_insert_with(Box::default).cause = cause;
        }
        drop(shared);
        finish
    }
}

/// Cancels the merged contexts a walk reached through their second parent,
/// and those their walks reach: one walk after the other rather than
/// nested, so no chain of merges deepens the stack, and no walk waits on
/// another that waits on it (invariant 8). Out of line: most cancellations
/// reach none.
#[inline(never)]
fn cancel_merged(mut merged: Vec<Weak<CancelNode>>, err: Error, cause: Option<Cause>) {
    while let Some(node) = merged.pop() {
        if let Some(node) = node.upgrade() {
            merged.extend(node.cancel_tree(err, cause.clone()).into_iter().flatten());
        }
    }
}

/// How many entries ahead a cancellation's walk touches the next children.
const LOOK_AHEAD: usize = 8;

/// One step of a cancellation's walk down the tree.
enum Step {
    /// Entries taken from a node that was just made done.
    Notify(Entries),
    /// Every descendant of this node is done: popped after them, because it
    /// is pushed before them.
    Propagated(Arc<CancelNode>),
}

/// Delivers a cancellation to the entries taken from `root`, descending
/// into children with an explicit stack (no recursion, no lock held).
///
/// Waking, starting after-funcs (under loom, running them) and dropping the
/// last reference to a node can all run user code, which may cancel a
/// context of this very subtree and so wait for its propagation: they are
/// deferred until every node here is marked propagated (invariants 4, 6).
/// After-funcs are started, not run (invariant 7). `Arc::into_inner` tells,
/// atomically, whether the walk's reference was the last; any other is
/// released on the spot.
///
/// Returns the merged contexts reached through their second parent, for
/// the caller to cancel next (invariant 8).
fn notify(
    root: &CancelNode,
    entries: Entries,
    err: Error,
    cause: Option<Cause>,
) -> Vec<Weak<CancelNode>> {
    // Inline for the few a request's context has: a cancel that wakes
    // them allocates nothing to do it.
    let mut wakers: SmallVec<[Waker; 4]> = SmallVec::new();
    let mut after_funcs: SmallVec<[AfterFunc; 2]> = SmallVec::new();
    let mut reached = Vec::new();
    let mut merged = Vec::new();
    // The root's entries are walked before anything is pushed: a node
    // without grandchildren cancels without allocating a stack.
    let mut steps = Vec::new();
    let mut next = Some(entries);
    loop {
        let mut entries = match next.take().map(Step::Notify).or_else(|| steps.pop()) {
            None => break,
            Some(Step::Notify(entries)) => entries,
            Some(Step::Propagated(node)) => {
                node.mark_propagated();
                reached.extend(Arc::into_inner(node));
                continue;
            }
        };
        for index in 0..entries.len() {
            // A wide tree's walk waits on one cache miss per child. Reading
            // a child a few entries ahead starts its miss early, so several
            // are in flight at once.
            if let Some(Entry::Child(ahead)) = entries.get(index + LOOK_AHEAD) {
                std::hint::black_box(ahead.strong_count());
            }
            let entry = mem::replace(&mut entries[index], Entry::Vacant(NO_SLOT));
            match entry {
                Entry::Child(child) => {
                    let Some(child) = child.upgrade() else {
                        continue;
                    };
                    match child.finish(err, cause.clone()) {
                        // `finish` marked it propagated.
                        Finish::Leaf => {
                            reached.extend(Arc::into_inner(child));
                        }
                        Finish::Notify(grandchildren) => {
                            steps.push(Step::Propagated(child));
                            steps.push(Step::Notify(grandchildren));
                        }
                        // Canceled first by another thread, which is still
                        // propagating: this subtree is done when it is.
                        Finish::AlreadyDone => {
                            child.wait_propagated();
                            reached.extend(Arc::into_inner(child));
                        }
                    }
                }
                Entry::Waiter(waker) => wakers.push(waker),
                Entry::AfterFunc(f) => after_funcs.push(f),
                Entry::Merged(node) => merged.push(node),
                Entry::MergedInto(second_parent, slot) => {
                    second_parent.deregister(slot);
                    reached.extend(Arc::into_inner(second_parent));
                }
                Entry::Vacant(_) => {}
            }
        }
    }
    root.mark_propagated();
    wakers.into_iter().for_each(Waker::wake);
    after_funcs.into_iter().for_each(after_func::start);
    drop(reached);
    merged
}
