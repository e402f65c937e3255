//! What `ctx-macros`' `uncancelable.rs` generates: the body's [`Shield`],
//! which its `#[uncancelable]` statements hold.
//!
//! Every checked body starts with
//! `let __shield_storage = Shield::default(); let __shield = &__shield_storage;`.
//! A statement marked `#[uncancelable]` runs after
//! `let __shield_held = __shield.hold();`, its awaits left plain, and the
//! shield is lowered when `__shield_held` is dropped (at the end of the
//! statement, or of its block for a `let`). While it is held, the
//! whole-body race (`race_body`) lets the body run on; the first checked
//! await after it reports the cancellation.

use std::sync::atomic::{AtomicU32, Ordering};

/// Raised while an `#[uncancelable]` statement runs, so the whole-body race
/// lets it finish. One per checked body (`__shield`), never raised without
/// `#[uncancelable]`.
///
/// Only ever touched by the one task polling the fn, so relaxed loads and
/// stores suffice; it is atomic only to keep the fn's future `Send`.
#[derive(Debug)]
pub struct Shield(AtomicU32);

impl Default for Shield {
    #[inline(always)]
    fn default() -> Self {
        Shield(AtomicU32::new(0))
    }
}

impl Shield {
    /// Raises the shield until the guard is dropped.
    #[inline]
    pub fn hold(&self) -> ShieldGuard<'_> {
        self.0
            .store(self.0.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        ShieldGuard(self)
    }

    #[inline(always)]
    pub(super) fn is_raised(&self) -> bool {
        self.0.load(Ordering::Relaxed) != 0
    }
}

/// Lowers its [`Shield`] when dropped, however the statement ends.
#[must_use = "the shield is lowered when the guard is dropped"]
#[derive(Debug)]
pub struct ShieldGuard<'s>(&'s Shield);

impl Drop for ShieldGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        let shield = &self.0 .0;
        shield.store(shield.load(Ordering::Relaxed) - 1, Ordering::Relaxed);
    }
}
