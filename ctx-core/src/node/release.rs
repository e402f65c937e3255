//! What the last owner's drop does to a node.
//!
//! Kept here: invariant 10. A node is cancelled only by an explicit
//! `cancel` (its handle's, or its drop guard's), its deadline, or an
//! ancestor's cancellation: dropping a handle, or any owner, never ends a
//! context that someone still holds. When its last owner goes (context
//! clones and handle alike), the node is released; if something is still
//! registered with it then (an after-func whose handle is gone, a parked
//! waker, a merge's record of its second parent), nobody can see it end,
//! and it is cancelled on the way out so those registrations are not lost:
//! after-funcs run and the second parent's entry goes (invariants 5, 8).

use std::mem;

use crate::error::Error;
use crate::sync::exclusive;
use crate::Context;

use super::CancelNode;

impl CancelNode {
    /// Releases the node's place in the tree and hands back its parent, for
    /// `Context`'s iterative drop.
    pub(crate) fn into_parent(mut self) -> Context<'static> {
        self.release();
        mem::replace(&mut self.parent, Context::background())
    }

    /// Ends the node's place in the tree as its last owner (context or
    /// handle) goes: leaves the parent's registry, if cancellation has not
    /// done so already (restores invariant 5), and cancels the node first
    /// if something is still registered with it (invariant 10).
    fn release(&mut self) {
        // `&mut self`: nothing else can reach this node any more. The
        // acquire of the last reference count's decrement made every
        // registration of the owners dropped before visible here.
        if self.holds_registrations() {
            self.cancel(Error::Canceled, None);
            return;
        }
        // A node whose cancellation already left its parent, or that never
        // joined, skips the parent's lock; a stale `slot` can only be a
        // number not yet swapped out, which `leave_parent` re-checks under
        // that lock.
        self.leave_parent();
    }

    /// Whether anything is registered with this node, which nothing else
    /// can reach.
    fn holds_registrations(&mut self) -> bool {
        exclusive(&mut self.shared)
            .as_ref()
            .is_some_and(|shared| shared.registry.occupied != 0)
    }
}

impl Drop for CancelNode {
    fn drop(&mut self) {
        self.release();
    }
}
