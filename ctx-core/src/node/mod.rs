//! The cancellation tree.
//!
//! Every cancelable context (`with_cancel`, `with_deadline`, `merge`) is a
//! [`CancelNode`]. Value and without-cancel contexts are not nodes of this
//! tree: they point at the nearest cancelable ancestor, their *cancel node*,
//! and observe it.
//!
//! A node's state (live, or why it is done) is an atomic, read without a
//! lock by `err()` and `is_done()`. Under its one mutex, a node keeps a
//! registry of what must hear of its cancellation: attached children
//! (weakly, so a child's lifetime is its own), wakers of pending
//! `done()`/`run()` futures, after-funcs, and merged contexts whose second
//! parent it is. A child joins its parent's registry only once something
//! registers with it; until then it looks at its ancestors when checked.
//!
//! | file | idea |
//! |---|---|
//! | `state.rs` | the state word: live or done, engaged, propagated; its lock-free transitions |
//! | `slab.rs` | the slab of registrations: insert, remove and take by slot |
//! | `registry.rs` | registering with a node and deregistering, under its lock |
//! | `attach.rs` | a child's place in its parent's registry: looked at, joined lazily, left |
//! | `walk.rs` | cancellation: ending a node and walking its subtree |
//! | `release.rs` | what the last owner's drop does |
//! | `expiry.rs` | a node's deadline and the check that expires it |
//!
//! # Invariants
//!
//! Each is kept where its file says; the functions that keep or rely on
//! one name it.
//!
//! 1. **Done once.** A node goes from live to done once, never back. An
//!    *engaged* node is made done only under its lock, in the critical
//!    section that takes its registry; a node not engaged holds nothing and
//!    may end by one compare-and-swap, without the lock. (`state.rs`)
//! 2. **Nothing registered is missed.** Registration happens under the
//!    lock and only on a live node; a done node refuses it, and the caller
//!    acts on the done state instead. (`registry.rs`)
//! 3. **A slot is freed once**: by its owner, under the lock while the node
//!    is live, or by the cancellation that takes every slot. So slots need
//!    no generation counter. (`registry.rs`)
//! 4. **No user code under a lock.** What leaves a registry is dropped,
//!    woken or started after the lock is released. One lock is taken under
//!    another in one place, a parent's then its child's (see *Deadlock
//!    freedom*). (`registry.rs`, `attach.rs`, `walk.rs`)
//! 5. **No entry outlives its child.** A child leaves its parent's
//!    registry when it is canceled or released, after its own walk: a
//!    parent that outlives many short-lived children keeps none of them.
//!    (`attach.rs`)
//! 6. **A cancel returns with its subtree done.** A node is marked
//!    propagated once every descendant is done; a cancel that finds its node
//!    made done by another thread waits for that mark. The thread that
//!    walks runs no user code until every mark of its walk is set.
//!    (`walk.rs`)
//! 7. **After-funcs never run on the canceller's stack**: they start on a
//!    thread of their own, so `cancel()` never waits for one (under loom
//!    they run inline, once every lock is released). (`walk.rs`,
//!    `after_func.rs`)
//! 8. **No walk descends through a merge.** A merged context is a child of
//!    its first parent and a `Merged` entry of its second; a walk that
//!    reaches it by that entry cancels it afterwards, as the root of a walk
//!    of its own. (`walk.rs`)
//! 9. **Attached only when needed, top-down.** A child joins its parent's
//!    registry once something registers with it, after each unattached
//!    ancestor; an unattached node, when looked at, takes a done ancestor's
//!    error and cause as the walk would have given them. (`attach.rs`)
//! 10. **Only a cancellation ends a node**: its own `cancel`, its deadline,
//!     an ancestor's. Its last owner's drop cancels it only if something is
//!     still registered with it, so that registration is not lost.
//!     (`release.rs`)
//!
//! # Deadlock freedom
//!
//! One lock is taken under another in one place
//! (`CancelNode::join_under_parent_lock`): a parent's lock, then its
//! child's. A child is created after its parent, so every nested pair is
//! taken in creation order, and no cycle of waits can form. The other wait,
//! a cancel's for its node's propagated mark (invariant 6), holds no lock
//! and waits for a thread that holds none while it walks, runs no user code
//! before it sets the mark (invariant 6), and only waits in turn for nodes
//! below (invariant 8 keeps every walk inside a tree).

mod attach;
mod expiry;
mod registry;
mod release;
mod slab;
mod state;
mod walk;

use std::fmt;

use tokio::time::Instant;

use crate::deadline::PackedDeadline;
use crate::error::Cause;
use crate::sync::{Arc, AtomicU32, AtomicU8, Mutex};
use crate::Context;

pub(crate) use slab::Entry;
use slab::{Registry, NO_SLOT, ROOT};
use state::LIVE;

/// A cancelable context.
///
/// Kept to 48 bytes (64 with the `Arc` header): what every node needs is
/// inline, and so is a deadline (most deadline contexts are a request's,
/// and would otherwise allocate twice); what only some need (children,
/// waiters, a cause) is in [`Shared`], allocated on first use.
pub(crate) struct CancelNode {
    /// The context this one was derived from: the `Display` chain, the
    /// inherited deadline, the values in effect, and what keeps the
    /// ancestors alive.
    pub(crate) parent: Context<'static>,
    /// Live, or why the node is done, and the bits of its protocol
    /// (`state.rs`).
    state: AtomicU8,
    /// What the node is born with and what its registry holds
    /// (`state.rs`).
    flags: AtomicU8,
    /// This node's own deadline, unless it does not pack (then it is in
    /// [`Shared`]).
    deadline: PackedDeadline,
    /// This node's index in its parent node's registry, [`NO_SLOT`] while
    /// it is not attached, or [`ROOT`] (`attach.rs`).
    slot: AtomicU32,
    shared: Mutex<Option<Box<Shared>>>,
}

/// What only some nodes need, under the node's lock.
#[derive(Default)]
struct Shared {
    registry: Registry,
    /// The cause of the cancellation; `None` while live, when canceled
    /// without an explicit cause, or with a static one (whose code is in
    /// the state word, `state.rs`).
    cause: Option<Cause>,
    /// This node's own deadline, if it does not pack into the node.
    deadline: Option<Instant>,
    /// The cause its own deadline's passing gives, if it was given one.
    deadline_cause: Option<Cause>,
}

impl CancelNode {
    /// Creates a node derived from `parent`, with its own `deadline` if
    /// any, whose passing gives `deadline_cause`: not registered with
    /// `parent`'s cancel node (invariant 9), and born done if that node already
    /// is (invariant 2).
    pub(crate) fn new(
        parent: &Context<'_>,
        deadline: Option<Instant>,
        deadline_cause: Option<Cause>,
    ) -> Arc<Self> {
        let packed = deadline.and_then(PackedDeadline::pack);
        let unpacked = deadline.filter(|_| packed.is_none());
        let shared = (unpacked.is_some() || deadline_cause.is_some()).then(|| {
            Box::new(Shared {
                deadline: unpacked,
                deadline_cause,
                ..Shared::default()
            })
        });
        let cancel_node = parent.cancel_node();
        let node = Arc::new(CancelNode {
            parent: parent.erase(),
            state: AtomicU8::new(LIVE),
            flags: AtomicU8::new(expiry::birth_flags(deadline.is_some(), cancel_node)),
            deadline: packed.unwrap_or(PackedDeadline::NONE),
            slot: AtomicU32::new(if cancel_node.is_none() { ROOT } else { NO_SLOT }),
            shared: Mutex::new(shared),
        });
        if let Some(parent) = cancel_node {
            parent.pass_on_done(&node);
        }
        node
    }
}

impl fmt::Debug for CancelNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelNode")
            .field("err", &self.err())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context as TaskContext, Waker};

    use super::CancelNode;
    use crate::error::Cause;
    use crate::static_cause::StaticCause;
    use crate::sync::lock;
    use crate::{Context, RequestEnded};

    fn responded() -> Option<Cause> {
        Some(Arc::clone(StaticCause::Responded.cause()))
    }

    fn cause_of(ctx: &Context<'_>) -> Option<RequestEnded> {
        ctx.cause()?.downcast_ref().copied()
    }

    fn keeps_nothing(ctx: &Context<'_>) -> bool {
        let node = ctx.cancel_node().expect("a cancelable context");
        lock(&node.shared)
            .as_ref()
            .is_none_or(|shared| shared.cause.is_none())
    }

    /// A static cause is recorded in the state word: the node keeps no
    /// clone of it, and it reads back, for the node and for children made
    /// before and after, whether the node was waited on or not.
    #[test]
    fn a_static_cause_is_kept_in_the_state_word() {
        let (ctx, cancel) = Context::background().with_cancel();
        let (child, _child_cancel) = ctx.with_cancel();
        cancel.cancel_with(responded());
        assert_eq!(cause_of(&ctx), Some(RequestEnded::Responded));
        assert_eq!(cause_of(&child), Some(RequestEnded::Responded));
        assert_eq!(
            cause_of(&ctx.with_cancel().0),
            Some(RequestEnded::Responded)
        );
        assert!(keeps_nothing(&ctx) && keeps_nothing(&child));
        let node = ctx.cancel_node().unwrap();
        assert!(lock(&node.shared).is_none(), "ending it allocated nothing");

        let (waited, cancel) = Context::background().with_cancel();
        let mut done = pin!(waited.done());
        assert!(done
            .as_mut()
            .poll(&mut TaskContext::from_waker(Waker::noop()))
            .is_pending());
        cancel.cancel_with(Some(Arc::clone(StaticCause::Abandoned.cause())));
        assert_eq!(cause_of(&waited), Some(RequestEnded::Abandoned));
        assert!(keeps_nothing(&waited));
    }

    /// A cause a user made, equal in value to a static one, is not one:
    /// it is kept, and reads back as itself.
    #[test]
    fn a_cause_equal_to_a_static_one_is_kept() {
        let (ctx, cancel) = Context::background().with_cancel();
        let given: Cause = Arc::new(RequestEnded::Responded);
        cancel.cancel_with(Some(Arc::clone(&given)));
        assert!(Arc::ptr_eq(&ctx.cause().unwrap(), &given));
        assert!(!keeps_nothing(&ctx));
    }

    /// The budget (a goal of BENCHMARKS.md): a cancelable node in 64 bytes,
    /// `Arc` header included: one cache line.
    #[test]
    fn a_cancelable_node_fits_in_64_bytes() {
        assert!(std::mem::size_of::<CancelNode>() + 2 * std::mem::size_of::<usize>() <= 64);
    }
}
