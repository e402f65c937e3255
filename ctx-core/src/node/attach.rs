//! A child's place in its parent's registry: looked at while unattached,
//! joined lazily, left when the child ends.
//!
//! Kept here: invariant 9 and invariant 5. A child is *attached*
//! (registered with its parent node) only once something registers with
//! it: a waiter, an after-func, a merge, or an attached child of its own. A
//! deadline is not one: its timer holds the node weakly, and the node's
//! `cancel` looks at the ancestors first. Attaching goes top-down, each
//! unattached ancestor first, so an attached node's parent is attached too,
//! and a node with registrations is attached, done, or a root.
//!
//! An attached node hears of its ancestors' cancellation by the walk; an
//! unattached one looks instead: a check of a live unattached node reads
//! its unattached ancestors' states, and if one is done, makes the nodes
//! below it done top-down, each with its parent's error and cause under its
//! own lock, as the walk would have. So a node's error and cause are
//! decided once, and whoever saw it done saw what sticks.
//!
//! A child joins its parent under both locks, parent first, and only while
//! both are live: a cancel of the child either comes first (and the child
//! does not join) or finds the slot once its lock is released (and leaves),
//! so no entry outlives its child (invariant 5).

use smallvec::SmallVec;

use crate::error::Error;
use crate::sync::{lock, Arc, Ordering};

use super::registry::unlock_then_drop;
use super::slab::{Entry, NO_SLOT, ROOT};
use super::state::{decode, is_done};
use super::{CancelNode, Shared};

/// How many unattached ancestors a check walks before it attaches the
/// last of them: checks on a deep chain stay short, and a request's few
/// contexts never attach for a check.
const WALK_LIMIT: usize = 8;

impl CancelNode {
    /// Why this node is done, or `None` while it is live. Lock-free unless
    /// it finds the node done by an ancestor (relies on invariant 9).
    #[inline]
    pub(crate) fn err(&self) -> Option<Error> {
        let state = self.state.load(Ordering::Acquire);
        if is_done(state) || self.slot.load(Ordering::Relaxed) != NO_SLOT {
            // Done, or attached (or a root): its own state is the answer.
            return decode(state);
        }
        self.inherited_err()
    }

    /// [`err`](Self::err) of a live node not attached to its parent: done
    /// if an ancestor on its unattached path is (then made done from it),
    /// live otherwise (invariant 9). A walk that passes [`WALK_LIMIT`]
    /// unattached ancestors attaches the last one, so checks stay short on
    /// any chain.
    #[inline(never)]
    fn inherited_err(&self) -> Option<Error> {
        let mut node = self;
        let mut walked = 0;
        while let Some(parent) = node.parent.cancel_node() {
            if is_done(parent.state.load(Ordering::Acquire)) {
                self.inherit_cancellation();
                return decode(self.state.load(Ordering::Acquire));
            }
            if parent.slot.load(Ordering::Relaxed) != NO_SLOT {
                return None;
            }
            walked += 1;
            if walked == WALK_LIMIT {
                parent.attach();
                // Attached, or found done on the way: either way, the walk
                // from here on is short.
                return self.err();
            }
            node = parent;
        }
        None
    }

    /// Makes this node done as its nearest done ancestor's cancellation
    /// would have, had it been attached: top-down, each node on the way is
    /// canceled with its parent's error and cause (invariant 9).
    #[cold]
    fn inherit_cancellation(&self) {
        let live = self.ancestors_until(|ancestor| is_done(ancestor.state.load(Ordering::Acquire)));
        let top_down = live.into_iter().rev().map(|ancestor| &**ancestor);
        for node in top_down.chain(std::iter::once(self)) {
            let Some(parent) = node.parent.cancel_node() else {
                // No done ancestor after all: states never go back, so
                // only a caller that saw none gets here.
                return;
            };
            let err = decode(parent.state.load(Ordering::Acquire))
                .expect("a parent canceled before its child (top-down)");
            node.cancel_subtree(err, parent.explicit_cause());
        }
    }

    /// Makes a brand-new `child` done with this node's error and cause if
    /// this node is done (its cause was stored under its lock with its
    /// state; invariant 2). Nothing is registered with the child yet, so
    /// `finish` marks its subtree done with it.
    ///
    /// Reads this node's own state, not its unattached ancestors': a child
    /// whose grandparent is done finds it when something first looks at it
    /// (invariant 9), as its parent would. Looking here would make every
    /// context of a chain deeper than [`WALK_LIMIT`] attach as it is built,
    /// which a chain that nothing checks or waits on never needs.
    pub(super) fn pass_on_done(&self, child: &CancelNode) {
        if let Some(err) = decode(self.state.load(Ordering::Acquire)) {
            child.finish(err, self.explicit_cause());
        }
    }

    /// Registers this node with its parent node, after that node with
    /// its own and so on up to an attached ancestor, so that from then on
    /// an ancestor's cancellation reaches it by the walk (restores
    /// invariant 9 before a registration). A node already attached, a root,
    /// or a node done meanwhile is left as it is; a node whose parent is
    /// done is made done from it.
    pub(super) fn attach(self: &Arc<Self>) {
        if self.slot.load(Ordering::Relaxed) != NO_SLOT {
            return;
        }
        let unattached =
            self.ancestors_until(|ancestor| ancestor.slot.load(Ordering::Relaxed) != NO_SLOT);
        for node in unattached.into_iter().rev().chain(std::iter::once(self)) {
            node.join_parent();
        }
    }

    /// This node's ancestors, nearest first, up to the root or to the first
    /// one `stop` accepts (not included).
    fn ancestors_until(
        &self,
        stop: impl Fn(&CancelNode) -> bool,
    ) -> SmallVec<[&Arc<CancelNode>; 8]> {
        let mut ancestors = SmallVec::new();
        let mut node = self;
        while let Some(parent) = node.parent.cancel_node() {
            if stop(parent) {
                break;
            }
            ancestors.push(parent);
            node = parent;
        }
        ancestors
    }

    /// One step of [`attach`](Self::attach): this node into its parent's
    /// registry if the parent is live (invariant 2), or made done from the
    /// parent if it is not (invariant 9).
    fn join_parent(self: &Arc<Self>) {
        let Some(parent) = self.parent.cancel_node() else {
            return;
        };
        let refused = {
            let mut shared = lock(&parent.shared);
            match parent.engage() {
                None => {
                    self.join_under_parent_lock(parent, &mut shared);
                    None
                }
                Some(err) => Some((err, parent.explicit_cause_locked(&shared))),
            }
        };
        if let Some((err, cause)) = refused {
            self.cancel_subtree(err, cause);
        }
    }

    /// The tree's one nested lock (invariant 4): under `parent`'s lock
    /// (`parent_shared`), with the parent engaged, takes this node's own
    /// lock and enters the parent's registry if this node is still
    /// unattached and live (engaged too). A cancel of this node either came
    /// first, and it does not join, or finds the slot once this lock is
    /// released, and leaves the parent (invariant 5).
    fn join_under_parent_lock(
        self: &Arc<Self>,
        parent: &CancelNode,
        parent_shared: &mut Option<Box<Shared>>,
    ) {
        let _own = lock(&self.shared);
        if self.slot.load(Ordering::Relaxed) == NO_SLOT && self.engage().is_none() {
            let slot = parent.insert_entry(parent_shared, Entry::Child(Arc::downgrade(self)));
            self.slot.store(slot, Ordering::Relaxed);
        }
    }

    /// Whether this node holds (or, a hint, held until its parent's
    /// cancel took it) a slot in its parent's registry.
    fn is_attached(&self) -> bool {
        self.slot.load(Ordering::Relaxed) < ROOT
    }

    /// Removes this node's entry from its parent node's registry
    /// (restores invariant 5).
    #[inline]
    pub(super) fn leave_parent(&self) {
        // Never joined (or a root): nothing to take the parent's lock for.
        // A join that raced this node's cancel saw it done, or set the
        // slot before that cancel released the node's lock.
        if self.is_attached() {
            self.remove_from_parent();
        }
    }

    /// [`leave_parent`](Self::leave_parent) of a node that joined.
    fn remove_from_parent(&self) {
        let Some(parent) = self.parent.cancel_node() else {
            return;
        };
        let mut shared = lock(&parent.shared);
        // A done parent has already taken every entry (invariant 3).
        if is_done(parent.state.load(Ordering::Relaxed)) {
            return;
        }
        let slot = self.slot.swap(NO_SLOT, Ordering::Relaxed);
        if slot != NO_SLOT {
            let entry = parent.remove_entry(&mut shared, slot);
            unlock_then_drop(shared, entry);
        }
    }
}
