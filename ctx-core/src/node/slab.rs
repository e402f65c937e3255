//! The slab of a node's registrations: O(1) insert and remove by slot
//! number, and the taking of every registration at once by cancellation.
//! A slot number is what an owner keeps to free its registration
//! (invariant 3).

use std::mem;
use std::task::Waker;

use smallvec::SmallVec;

use crate::after_func::AfterFunc;
use crate::sync::{Arc, Weak};

use super::CancelNode;

/// Marks "no slot": the end of the vacant list; in a node's `slot`, a
/// node not registered with a parent, or whose registration was already
/// removed.
pub(super) const NO_SLOT: u32 = u32::MAX;
/// Marks a node with no parent node (a child of Background, Todo or a
/// without-cancel context): nothing to attach to, so its state is its own.
pub(super) const ROOT: u32 = u32::MAX - 1;

/// What must hear about a node's cancellation.
pub(crate) enum Entry {
    Child(Weak<CancelNode>),
    Waiter(Waker),
    AfterFunc(AfterFunc),
    /// A merged context whose second parent this node is: canceled after
    /// the walk, as a walk's root (invariant 8).
    Merged(Weak<CancelNode>),
    /// In a merged context's own registry: its second parent and the slot
    /// of its `Merged` entry there, removed when the merged context is done.
    MergedInto(Arc<CancelNode>, u32),
    /// A free slot, linking to the next free one.
    Vacant(u32),
}

/// How many slots an empty registry keeps rather than freeing.
const KEPT_CAPACITY: usize = 16;

/// A node's registrations. The first is kept inline: most nodes have one at
/// most (a chain of contexts, a request's tree), and so need no allocation
/// for it beyond their boxed rare state.
pub(super) type Entries = SmallVec<[Entry; 1]>;

/// A slab of [`Entry`]s: O(1) insert and remove by slot.
pub(super) struct Registry {
    entries: Entries,
    next_vacant: u32,
    pub(super) occupied: usize,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            entries: Entries::new(),
            next_vacant: NO_SLOT,
            occupied: 0,
        }
    }
}

impl Registry {
    pub(super) fn insert(&mut self, entry: Entry) -> u32 {
        self.occupied += 1;
        if self.next_vacant != NO_SLOT {
            let slot = self.next_vacant;
            match mem::replace(&mut self.entries[slot as usize], entry) {
                Entry::Vacant(next) => self.next_vacant = next,
                _ => unreachable!("the vacant list only links vacant slots"),
            }
            return slot;
        }
        let slot = u32::try_from(self.entries.len())
            .ok()
            .filter(|&slot| slot < ROOT)
            .expect("more than 4 billion registrations on one context");
        self.entries.push(entry);
        slot
    }

    pub(super) fn remove(&mut self, slot: u32) -> Entry {
        let entry = mem::replace(
            &mut self.entries[slot as usize],
            Entry::Vacant(self.next_vacant),
        );
        self.next_vacant = slot;
        self.occupied -= 1;
        if self.occupied == 0 && self.entries.capacity() > KEPT_CAPACITY {
            // A long-lived parent must not keep the high-water mark of its
            // children forever. A small slab is kept as it is, every slot
            // vacant, so child churn neither allocates nor clears it.
            *self = Registry::default();
        }
        entry
    }

    /// Takes every registration, leaving the registry empty: `None`, and
    /// the registry as it is, when only vacant slots are left (a child
    /// waited on once keeps its vacant slot until it is dropped).
    pub(super) fn take(&mut self) -> Option<Entries> {
        (self.occupied != 0).then(|| mem::take(self).entries)
    }

    /// Puts `entry` in the occupied `slot`, handing back the one it held.
    pub(super) fn replace(&mut self, slot: u32, entry: Entry) -> Entry {
        mem::replace(&mut self.entries[slot as usize], entry)
    }
}

#[cfg(test)]
mod tests {
    use super::{Entry, Registry, KEPT_CAPACITY};

    fn vacant() -> Entry {
        Entry::Vacant(0)
    }

    /// A slab emptied by its owners keeps its slots, vacant, and reuses
    /// them: child churn under a parent neither allocates nor grows it.
    #[test]
    fn an_emptied_registry_reuses_its_slots() {
        let mut registry = Registry::default();
        let slots: Vec<u32> = (0..3).map(|_| registry.insert(vacant())).collect();
        for &slot in &slots {
            registry.remove(slot);
        }
        assert_eq!(registry.occupied, 0);
        assert_eq!(registry.entries.len(), 3);
        let reused: Vec<u32> = (0..3).map(|_| registry.insert(vacant())).collect();
        assert!(reused.iter().all(|slot| slots.contains(slot)));
        assert_eq!(registry.entries.len(), 3);
        // A fourth registration grows the slab.
        assert_eq!(registry.insert(vacant()), 3);
    }

    /// Cancellation takes nothing from a slab whose slots are all vacant,
    /// and everything from one that holds a registration.
    #[test]
    fn taking_a_registry_hands_over_only_occupied_slabs() {
        let mut registry = Registry::default();
        let slot = registry.insert(vacant());
        registry.remove(slot);
        assert!(registry.take().is_none());
        registry.insert(vacant());
        registry.insert(vacant());
        assert_eq!(registry.take().map(|entries| entries.len()), Some(2));
        assert_eq!(registry.occupied, 0);
        assert!(registry.entries.is_empty());
    }

    /// A slab above the kept capacity is freed once it empties: a parent
    /// does not keep the high-water mark of its children.
    #[test]
    fn a_large_emptied_registry_is_freed() {
        let mut registry = Registry::default();
        let slots: Vec<u32> = (0..=KEPT_CAPACITY)
            .map(|_| registry.insert(vacant()))
            .collect();
        for &slot in &slots {
            registry.remove(slot);
        }
        assert_eq!(registry.entries.capacity(), 1, "back to the inline slot");
        assert_eq!(registry.insert(vacant()), 0);
    }
}
