//! The synchronization primitives of the tree, swapped for loom's when the
//! crate is built with `--cfg ctx_loom`, so the loom models explore every
//! interleaving of the locks and atomics the tree's protocol relies on.
//!
//! Reference counting stays `std`'s in both builds (loom has no `Weak`):
//! the protocol never relies on a refcount to order anything, it only asks
//! `Weak::upgrade` whether a node still exists.

#[cfg(ctx_loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU32, AtomicU8, Ordering},
    Mutex, MutexGuard,
};
#[cfg(not(ctx_loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(not(ctx_loom))]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
pub(crate) use std::sync::{Arc, Weak};

/// Locks `mutex`. The tree holds a lock for a few instructions, never while
/// user code runs (invariant 4 of `node/mod.rs`), and its locks are
/// contended by design (every child of a parent takes the parent's lock to
/// join and to leave): parking_lot's lock spins briefly before it parks,
/// where `std`'s sleeps in the kernel sooner.
#[cfg(not(ctx_loom))]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock()
}

/// Locks `mutex` (loom's, which has std's poisoning API; the tree never
/// runs user code while it holds a lock, invariant 4, so poison cannot
/// happen).
#[cfg(ctx_loom)]
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The data of a mutex nothing else can reach any more, without locking
/// it.
#[cfg(not(ctx_loom))]
pub(crate) fn exclusive<T>(mutex: &mut Mutex<T>) -> &mut T {
    mutex.get_mut()
}

/// The data of a mutex nothing else can reach any more (loom's).
#[cfg(ctx_loom)]
pub(crate) fn exclusive<T>(mutex: &mut Mutex<T>) -> &mut T {
    mutex
        .get_mut()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Gives the thread's turn away while waiting for another thread's
/// progress (loom must see the wait to explore past it).
pub(crate) fn yield_now() {
    #[cfg(ctx_loom)]
    loom::thread::yield_now();
    #[cfg(not(ctx_loom))]
    std::thread::yield_now();
}
