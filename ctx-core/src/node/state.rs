//! A node's state word and flags, and the transitions of the state that
//! keep invariant 1: a node goes from live to done once; an engaged node is
//! ended only under its lock, a node not engaged by one compare-and-swap.
//!
//! Engaging and ending without the lock are read-modify-writes of the one
//! state atomic, so they are ordered: one of them sees the other. A
//! registration or a join either engages the node first (and its
//! cancellation then takes the lock, and the registration) or finds it done.

use crate::error::{Cause, Error};
use crate::static_cause::StaticCause;
use crate::sync::{lock, Arc, Ordering};

use super::slab::Entries;
use super::{CancelNode, Shared};

/// In the state: the node is live.
pub(super) const LIVE: u8 = 0;
/// In the state: done by a cancellation.
const CANCELED: u8 = 1;
/// In the state: done by a deadline.
const DEADLINE_EXCEEDED: u8 = 2;
/// In the state: done, and so is every descendant (invariant 6).
pub(super) const PROPAGATED: u8 = 4;
/// In the state: set on a live node, under its lock, before anything is
/// registered with it or it joins its parent; cleared when its registry
/// empties. While set, only a cancellation under the lock may end the node
/// (invariant 1).
const ENGAGED: u8 = 8;
/// In the state: set on a done node, in the write that makes it done, when
/// its cancellation has an explicit cause (kept in [`Shared`], or a
/// [`StaticCause`] whose code is in the same write); read without the
/// lock.
const HAS_CAUSE: u8 = 16;
/// In the state, with [`HAS_CAUSE`]: the code of the [`StaticCause`] the
/// cancellation gave, or 0 for a cause kept in [`Shared`].
const STATIC_CAUSE: u8 = 32 | 64;
/// The shift of [`STATIC_CAUSE`]'s code.
const STATIC_CAUSE_SHIFT: u32 = STATIC_CAUSE.trailing_zeros();
/// The bits that say why a node is done.
const ERR: u8 = CANCELED | DEADLINE_EXCEEDED;

/// In the flags: the node has a deadline of its own (packed in the node,
/// or in [`Shared`]). Set at birth.
pub(super) const HAS_DEADLINE: u8 = 1;
/// In the flags: the node's [`Shared`] holds a registration, which its
/// cancellation must take. Written under the node's lock whenever its
/// registry changes, and read under it by `finish`, which so leaves
/// untouched the box of a node that holds none (a child waited on once,
/// whose registry is all vacant slots).
pub(super) const HOLDS: u8 = 2;
/// In the flags: a deadline applies to the node, its own or an
/// ancestor's. Set at birth; tells a check whether reading the clock can
/// matter (`clock.rs`).
pub(super) const DEADLINE_APPLIES: u8 = 4;

/// What ending a node found (`finish`, [`CancelNode::end_unengaged`]).
pub(super) enum Finish {
    /// The node was live and held no registration: it is done, and so is
    /// its subtree (it has no attached child).
    Leaf,
    /// The node was live: it is done, and these must hear of it.
    Notify(Entries),
    /// Another cancellation made the node done first.
    AlreadyDone,
}

impl CancelNode {
    /// Under the node's lock, before registering with it or joining its
    /// parent: marks it [`ENGAGED`] if it is live, and returns why it is
    /// done otherwise. Once engaged, nothing but a cancellation under this
    /// lock can end it, so it stays live until the lock is released
    /// (invariant 1).
    pub(super) fn engage(&self) -> Option<Error> {
        let state = self.state.load(Ordering::Relaxed);
        if state & ENGAGED != 0 || is_done(state) {
            return decode(state);
        }
        // One read-modify-write against a lock-free cancel's: whichever
        // comes first, the other sees it.
        decode(self.state.fetch_or(ENGAGED, Ordering::Relaxed))
    }

    /// Records whether `shared` holds anything a cancellation must take
    /// ([`HOLDS`]), and disengages the node once it holds nothing
    /// (restores invariant 1). Under the node's lock, after every change to
    /// its registry.
    pub(super) fn note_holdings(&self, shared: &Shared) {
        let holds = shared.registry.occupied != 0;
        let flags = self.flags.load(Ordering::Relaxed) & !HOLDS;
        self.flags
            .store(if holds { flags | HOLDS } else { flags }, Ordering::Relaxed);
        if !holds {
            // Nothing left to take: a cancellation may end the node
            // without its lock again, as a request's children that were
            // waited on once end when their parent is cancelled. A
            // read-modify-write, so a lock-free cancellation that reads its
            // result also sees what was written under the lock before it
            // (the slot of the node's join, which that cancellation must
            // leave).
            self.state.fetch_and(!ENGAGED, Ordering::Release);
        }
    }

    /// Ends a node with nothing registered (not [`ENGAGED`]) by one
    /// compare-and-swap, without its lock (invariant 1): it has nothing to
    /// take, and its state records whether there is a `cause`, which the
    /// caller keeps under the lock. `None` if it is engaged: only `finish`
    /// under its lock may end it.
    #[inline]
    pub(super) fn end_unengaged(&self, err: Error, cause_bits: u8) -> Option<Finish> {
        let state = self.state.load(Ordering::Acquire);
        if state != LIVE {
            return is_done(state).then_some(Finish::AlreadyDone);
        }
        match self.state.compare_exchange(
            LIVE,
            encode(err) | PROPAGATED | cause_bits,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(Finish::Leaf),
            Err(state) => is_done(state).then_some(Finish::AlreadyDone),
        }
    }

    /// The cause of the cancellation: the explicit one, else the error.
    pub(crate) fn cause(&self) -> Option<Cause> {
        let err = self.err()?;
        Some(self.explicit_cause().unwrap_or_else(|| Arc::new(err)))
    }

    /// Whether the node is done with a cause given to its cancellation.
    #[inline]
    pub(crate) fn has_explicit_cause(&self) -> bool {
        self.state.load(Ordering::Acquire) & HAS_CAUSE != 0
    }

    /// The cause given to the cancellation, if one was: without a lock or
    /// an allocation when none was, or when it is a [`StaticCause`].
    pub(crate) fn explicit_cause(&self) -> Option<Cause> {
        let state = self.state.load(Ordering::Acquire);
        if keeps_cause(state) {
            return recorded_cause(state, &lock(&self.shared));
        }
        // Live, or done without a cause (children born done under a
        // context cancelled without one read it without the lock), or with
        // a static one: nothing kept to lock.
        recorded_cause(state, &None)
    }

    /// [`explicit_cause`](Self::explicit_cause) under the node's lock,
    /// `shared`.
    pub(super) fn explicit_cause_locked(&self, shared: &Option<Box<Shared>>) -> Option<Cause> {
        recorded_cause(self.state.load(Ordering::Acquire), shared)
    }
}

/// The cause a node in `state` records: none, a static one, or the one
/// kept in `shared` (read under the node's lock).
fn recorded_cause(state: u8, shared: &Option<Box<Shared>>) -> Option<Cause> {
    if state & HAS_CAUSE == 0 {
        return None;
    }
    static_cause(state).or_else(|| shared.as_ref().and_then(|shared| shared.cause.clone()))
}

/// The state bits that record a cancellation's `cause`: [`HAS_CAUSE`] if
/// there is one, and the code of its [`StaticCause`] if it is one.
pub(super) fn cause_bits(cause: &Option<Cause>) -> u8 {
    match cause {
        None => 0,
        Some(cause) => {
            let code = StaticCause::find(cause).map_or(0, StaticCause::code);
            HAS_CAUSE | (code << STATIC_CAUSE_SHIFT)
        }
    }
}

/// Whether the cause `bits` (a state, or [`cause_bits`]) record is kept in
/// [`Shared`], under the node's lock: one was given, and it is not a
/// [`StaticCause`].
pub(super) fn keeps_cause(bits: u8) -> bool {
    bits & (HAS_CAUSE | STATIC_CAUSE) == HAS_CAUSE
}

/// The static cause a done node's `state` records, if it records one.
fn static_cause(state: u8) -> Option<Cause> {
    let code = (state & STATIC_CAUSE) >> STATIC_CAUSE_SHIFT;
    StaticCause::from_code(code).map(|cause| Arc::clone(cause.cause()))
}

/// Whether `state` is a done node's.
#[inline]
pub(super) fn is_done(state: u8) -> bool {
    state & ERR != LIVE
}

/// Why a node in `state` is done, or `None` while it is live.
#[inline]
pub(super) fn decode(state: u8) -> Option<Error> {
    match state & ERR {
        LIVE => None,
        CANCELED => Some(Error::Canceled),
        _ => Some(Error::DeadlineExceeded),
    }
}

/// The state bits of a node done with `err`.
pub(super) fn encode(err: Error) -> u8 {
    match err {
        Error::Canceled => CANCELED,
        Error::DeadlineExceeded => DEADLINE_EXCEEDED,
    }
}
