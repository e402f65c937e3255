//! A thread's parked registration: what lets a `select!` loop's `done()`
//! register its task's waker once, rather than on every turn.
//!
//! `loop { select! { _ = ctx.done() => .., v = rx.recv() => .. } }` makes,
//! polls and drops a `done()` future on every turn, in the same task, on
//! the same context. Registering the task's waker when it is polled and
//! removing it when it is dropped would take the context's lock twice a
//! turn, on a cache line that every thread waiting on that context writes.
//! Instead, a dropped future *parks* its registration with its thread, and
//! the next future polled on that thread for the same context takes it
//! back: a turn of the loop writes nothing shared.
//!
//! Ownership (invariant 3 of the tree, `node/mod.rs`): a registration is
//! owned by exactly one waiting future or one thread's park, and moves
//! between them by value, so only its owner ever frees its slot (or
//! cancellation, which takes every slot at once). A parked registration is
//! taken back by a future of any task: from the same task, its waker is
//! already the right one; from another, the waker is replaced in place (the
//! task it belonged to dropped its future, so it waits for nothing).
//!
//! The cost, bounded by one registration per thread: a parked waker stays
//! in its context's registry after its future is gone, until the thread
//! parks another (which frees the previous one), the context is done or
//! dropped, or the thread exits. Meanwhile it keeps its task's allocation
//! alive, and a cancellation of that context from another thread wakes its
//! task once more than the task asked for, which a waker must tolerate
//! (spurious wake-ups are part of [`Waker`](std::task::Waker)'s contract,
//! and an async runtime's tasks re-poll harmlessly). A cancellation on the
//! thread it is parked with takes it and frees it unwoken (`node/walk.rs`):
//! the common case of a request, ended on the thread its handler ran on.

use std::cell::Cell;

use crate::node::CancelNode;
use crate::sync::{Arc, Weak};

/// What [`Waker::will_wake`](std::task::Waker::will_wake) compares: the
/// data and vtable pointers, kept as addresses (compared, never followed).
/// While registered, the node's clone keeps that waker alive, so no other
/// waker can take its addresses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct WakerIdentity {
    data: usize,
    vtable: usize,
}

impl WakerIdentity {
    pub(crate) fn of(waker: &std::task::Waker) -> Self {
        WakerIdentity {
            data: waker.data() as usize,
            vtable: std::ptr::from_ref(waker.vtable()) as usize,
        }
    }
}

/// A waker's slot in a node's registry, owned by a future or a park.
pub(crate) struct Registration {
    /// The node, weakly: a park must not keep a context's values alive.
    /// It keeps the node's allocation, so no other node can take its
    /// address while this compares it.
    node: Weak<CancelNode>,
    pub(crate) slot: u32,
    /// Which waker the node holds, to skip its lock when the same task
    /// polls again.
    pub(crate) waker: WakerIdentity,
}

impl Registration {
    pub(crate) fn new(node: &Arc<CancelNode>, slot: u32, waker: WakerIdentity) -> Self {
        Registration {
            node: Arc::downgrade(node),
            slot,
            waker,
        }
    }

    /// Frees the slot, unless cancellation took it or the node is gone.
    fn release(self) {
        if let Some(node) = self.node.upgrade() {
            node.deregister(self.slot);
        }
    }
}

/// A thread's parked registration; freed when the thread exits.
struct Park(Cell<Option<Registration>>);

impl Drop for Park {
    fn drop(&mut self) {
        if let Some(parked) = self.0.take() {
            parked.release();
        }
    }
}

#[cfg(not(ctx_loom))]
std::thread_local! {
    static PARK: Park = const { Park(Cell::new(None)) };
}

// Loom's thread-locals are per model thread, so the models see each
// thread's park; its macro takes no `const` initializer.
#[cfg(ctx_loom)]
loom::thread_local! {
    static PARK: Park = Park(Cell::new(None));
}

/// Takes this thread's parked registration if it is `node`'s.
#[inline]
pub(crate) fn take(node: &CancelNode) -> Option<Registration> {
    PARK.try_with(|park| {
        let parked = park.0.take()?;
        if std::ptr::eq(parked.node.as_ptr(), node) {
            return Some(parked);
        }
        park.0.set(Some(parked));
        None
    })
    .ok()
    .flatten()
}

/// Parks `registration` with this thread, freeing the one parked before
/// it. One whose node is done is parked all the same, unchecked:
/// cancellation took its slot, no future takes it back (they find the node
/// done first), and freeing it finds the node done and frees nothing
/// (invariant 3).
#[inline]
pub(crate) fn park(registration: Registration) {
    let mut registration = Some(registration);
    let freed = PARK
        .try_with(|park| park.0.replace(registration.take()))
        .ok()
        .flatten();
    // The previous one, or this one if the thread is exiting (its park
    // already dropped).
    if let Some(freed) = freed.or(registration) {
        freed.release();
    }
}
