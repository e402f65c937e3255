//! A node's deadline: where it is kept, which node's deadline is the
//! effective one, and the check that expires a node whose timer has not
//! yet.

use tokio::time::Instant;

use crate::clock;
use crate::error::{Cause, Error};
use crate::sync::{lock, Arc, Ordering};

use super::state::{DEADLINE_APPLIES, HAS_DEADLINE};
use super::CancelNode;

impl CancelNode {
    /// The effective deadline: this node's own, or the inherited one (a
    /// node only has its own when it is earlier).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline_owner()?.own_deadline()
    }

    /// The nearest node, this one or an ancestor, whose own deadline is
    /// the effective one here.
    fn deadline_owner(&self) -> Option<&CancelNode> {
        let mut node = self;
        while !node.has_deadline() {
            node = node.parent.cancel_node()?;
        }
        Some(node)
    }

    /// Ends this node as its deadline passing does: with
    /// [`Error::DeadlineExceeded`] and the deadline's cause. Called by its
    /// timer, and by a check that found the deadline passed first.
    pub(crate) fn expire(&self) {
        let cause = lock(&self.shared)
            .as_ref()
            .and_then(|shared| shared.deadline_cause.clone());
        self.cancel(Error::DeadlineExceeded, cause);
    }

    /// The cause the passing of the effective deadline here gives: for a
    /// merge, which copies the deadline of its second context.
    pub(crate) fn effective_deadline_cause(&self) -> Option<Cause> {
        let owner = self.deadline_owner()?;
        lock(&owner.shared)
            .as_ref()
            .and_then(|shared| shared.deadline_cause.clone())
    }

    /// [`err`](Self::err) for a check before work is polled: once in a
    /// while (see `clock.rs`) it also reads the clock, and ends the node
    /// whose deadline has passed if its timer has not yet, so a loop of
    /// ready awaits stops even where no timer runs (a current-thread
    /// runtime busy with the loop, another executor).
    #[inline]
    pub(crate) fn check(&self) -> Option<Error> {
        let err = self.err();
        if err.is_none()
            && self.flags.load(Ordering::Relaxed) & DEADLINE_APPLIES != 0
            && clock::now_and_then()
        {
            return self.expire_if_passed();
        }
        err
    }

    /// Expires the owner of the effective deadline if it has passed; the
    /// node's error after that.
    #[cold]
    #[inline(never)]
    fn expire_if_passed(&self) -> Option<Error> {
        let owner = self.deadline_owner()?;
        if owner
            .own_deadline()
            .is_some_and(|deadline| deadline <= Instant::now())
        {
            owner.expire();
        }
        self.err()
    }

    /// The deadline this node was given itself, if any.
    pub(crate) fn own_deadline(&self) -> Option<Instant> {
        if !self.has_deadline() {
            return None;
        }
        if let Some(deadline) = self.deadline.unpack() {
            return Some(deadline);
        }
        lock(&self.shared)
            .as_ref()
            .and_then(|shared| shared.deadline)
    }

    fn has_deadline(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & HAS_DEADLINE != 0
    }
}

/// The flags a node is born with: whether it has a deadline of its own,
/// and whether one applies to it, its own or one its `parent` node has.
pub(super) fn birth_flags(own_deadline: bool, parent: Option<&Arc<CancelNode>>) -> u8 {
    let inherited =
        parent.is_some_and(|parent| parent.flags.load(Ordering::Relaxed) & DEADLINE_APPLIES != 0);
    match (own_deadline, inherited) {
        (true, _) => HAS_DEADLINE | DEADLINE_APPLIES,
        (false, true) => DEADLINE_APPLIES,
        (false, false) => 0,
    }
}
