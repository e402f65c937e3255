//! Registering with a node, replacing a waker and deregistering, under
//! the node's lock.
//!
//! Kept here: invariant 2 (registration only on a live node: a done node
//! refuses it, and the caller acts on the done state) and invariant 3 (a
//! slot is freed once: by its owner while the node is live, or by the
//! cancellation that takes every slot, never both, because of invariant 1).

use std::task::Waker;

use crate::error::{Cause, Error};
use crate::sync::{lock, Arc, MutexGuard, Ordering};

use super::slab::Entry;
use super::state::{decode, is_done};
use super::{CancelNode, Shared};

/// A registration refused because the node is already done, and why
/// (invariant 2).
pub(crate) struct Refused {
    pub(crate) entry: Entry,
    pub(crate) err: Error,
    pub(crate) cause: Option<Cause>,
}

impl CancelNode {
    /// Adds `entry` to the registry while the node is live (invariant 2),
    /// attaching the node first (invariant 9).
    pub(crate) fn register(self: &Arc<Self>, entry: Entry) -> Result<u32, Refused> {
        self.attach();
        let mut shared = lock(&self.shared);
        match self.engage() {
            None => Ok(self.insert_entry(&mut shared, entry)),
            Some(err) => {
                let cause = self.explicit_cause_locked(&shared);
                Err(Refused { entry, err, cause })
            }
        }
    }

    /// Replaces the waker in `slot`, unless the node is done meanwhile
    /// (then cancellation took the slot: invariant 3).
    pub(crate) fn rewake(&self, slot: u32, waker: &Waker) -> Result<(), Error> {
        let mut shared = lock(&self.shared);
        if let Some(err) = decode(self.state.load(Ordering::Relaxed)) {
            return Err(err);
        }
        let old = registered(&mut shared)
            .registry
            .replace(slot, Entry::Waiter(waker.clone()));
        unlock_then_drop(shared, old);
        Ok(())
    }

    /// Removes the registration in `slot`; `false` if cancellation already
    /// took it (invariant 3).
    pub(crate) fn deregister(&self, slot: u32) -> bool {
        let mut shared = lock(&self.shared);
        if is_done(self.state.load(Ordering::Relaxed)) {
            return false;
        }
        let entry = self.remove_entry(&mut shared, slot);
        unlock_then_drop(shared, entry);
        true
    }

    /// How many registrations the node holds: children, waiters,
    /// after-funcs, merged contexts, and a merged node's record of its
    /// second parent. For tests of the no-leak guarantee (invariant 5).
    #[cfg(feature = "test-util")]
    pub(crate) fn registrations(&self) -> usize {
        lock(&self.shared)
            .as_ref()
            .map_or(0, |shared| shared.registry.occupied)
    }

    /// Adds `entry` to the registry of this live, engaged node, whose lock
    /// `shared` is (invariant 2).
    pub(super) fn insert_entry(&self, shared: &mut Option<Box<Shared>>, entry: Entry) -> u32 {
        let shared = shared.get_or_insert_with(Box::default);
        let slot = shared.registry.insert(entry);
        self.note_holdings(shared);
        slot
    }

    /// Removes the entry in `slot` from the registry of this live node,
    /// whose lock `shared` is: its owner's one free of it (invariant 3).
    pub(super) fn remove_entry(&self, shared: &mut Option<Box<Shared>>, slot: u32) -> Entry {
        let shared = registered(shared);
        let entry = shared.registry.remove(slot);
        self.note_holdings(shared);
        entry
    }
}

/// Releases a node's lock, then drops what was removed under it: an
/// after-func's captures or a waker may own contexts, whose drop takes
/// locks (invariant 4).
pub(super) fn unlock_then_drop(shared: MutexGuard<'_, Option<Box<Shared>>>, removed: Entry) {
    drop(shared);
    drop(removed);
}

/// The shared state of a live node that holds a registration: it was
/// allocated by that registration (invariant 2), and its registry is only
/// taken by cancellation (invariant 3).
fn registered(shared: &mut Option<Box<Shared>>) -> &mut Shared {
    shared
        .as_mut()
        .expect("a live node with a registration has its shared state")
}
