//! Deadlines: what a context derived with one gets, decided in one place
//! ([`child`]), as Go's `WithDeadline` decides it:
//!
//! - A deadline no earlier than the parent's is the parent's: the child is
//!   a plain cancelable child, which keeps the parent's deadline (a child
//!   never extends its parent's deadline) and arms no timer of its own.
//! - A deadline too far to represent as an instant (now plus a timeout of
//!   `Duration::MAX`) is no deadline: a plain cancelable child.
//! - Under a parent already done, the child is born done with the parent's
//!   error and cause; nothing is armed.
//! - A deadline already passed makes the child done at birth, with
//!   [`Error::DeadlineExceeded`](crate::Error::DeadlineExceeded) and the
//!   deadline's cause; nothing is armed.
//! - Any other deadline, however far, is armed on the timer of the current
//!   Tokio runtime ([`timer`]), which expires the child when it passes, or
//!   cancels it with [`RuntimeGone`](crate::RuntimeGone) if that runtime
//!   shuts down first.
//!
//! A node keeps its own deadline packed ([`packed`]); its passing is the
//! node's [`expire`](CancelNode::expire).

mod packed;
mod timer;

use std::time::Duration;

use tokio::time::Instant;

pub(crate) use packed::PackedDeadline;
#[cfg(feature = "test-util")]
pub(crate) use timer::armed_on_current_runtime;

use crate::error::Cause;
use crate::node::CancelNode;
use crate::sync::Arc;
use crate::Context;

/// The deadline a derivation asks for.
pub(crate) enum Requested {
    /// At an instant (`with_deadline`).
    At(Instant),
    /// This long from now (`with_timeout`).
    After(Duration),
}

impl Requested {
    /// The deadline and how long until it, reading the clock once; `None`
    /// when it is too far to represent as an instant.
    fn resolve(self) -> Option<(Instant, Duration)> {
        match self {
            Requested::At(at) => Some((at, remaining_until(at))),
            Requested::After(timeout) => {
                Instant::now().checked_add(timeout).map(|at| (at, timeout))
            }
        }
    }
}

/// The node of a child of `parent` given the deadline `requested`, whose
/// passing gives `cause`: with the deadline armed, passed, or not its own,
/// as the module's rules say.
///
/// # Panics
///
/// When the deadline must be armed and no Tokio runtime with a timer is
/// current (see [`timer::arm`]).
pub(crate) fn child(
    parent: &Context<'_>,
    requested: Requested,
    cause: Option<Cause>,
) -> Arc<CancelNode> {
    let own = requested
        .resolve()
        .filter(|&(at, _)| parent.deadline().is_none_or(|inherited| at < inherited));
    let Some((at, remaining)) = own else {
        return CancelNode::new(parent, None, None);
    };
    let node = CancelNode::new(parent, Some(at), cause);
    if node.err().is_some() {
        // Born done, under a done parent: nothing left to time.
    } else if remaining.is_zero() {
        node.expire();
    } else {
        timer::arm(&node, at);
    }
    node
}

/// How long until `deadline`: zero once it has passed.
pub(crate) fn remaining_until(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}
