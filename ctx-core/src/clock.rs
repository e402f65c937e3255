//! When a check of a context also reads the clock.
//!
//! A context's deadline is ended by its runtime's timer. A task that never
//! yields (a loop of always-ready awaits) keeps a current-thread runtime
//! from running that timer, and a context polled on another executor may
//! have nobody driving it: its `err()` would say it is live long after its
//! deadline. So the checks made before polling work (a `Run`'s, a
//! `#[ctx_fn]` await's) on a context a deadline applies to read the clock
//! once in [`EVERY`] such checks on a thread, and end the context whose
//! deadline has passed. Reading the clock costs tens of nanoseconds;
//! counting the checks, a thread-local increment; a context no deadline
//! applies to pays neither.

use std::cell::Cell;

/// How many checks on a thread make one clock read: a loop of ready awaits
/// overshoots its deadline by at most this many turns.
const EVERY: u32 = 64;

thread_local! {
    static CHECKS: Cell<u32> = const { Cell::new(0) };
}

/// Counts a check on this thread; whether it is the one that reads the
/// clock.
#[inline]
pub(crate) fn now_and_then() -> bool {
    CHECKS
        .try_with(|checks| {
            let count = checks.get().wrapping_add(1);
            checks.set(count);
            count % EVERY == 0
        })
        .unwrap_or(false)
}
