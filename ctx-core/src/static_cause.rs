//! The causes the crate itself gives, one static each, shared by every
//! cancellation that gives it: a request's end ([`RequestEnded`]).
//!
//! A node records which one its cancellation was given in two bits of its
//! state word (`node/state.rs`) instead of keeping a clone under its lock,
//! so a cancellation that gives one ends a node nothing waits on by one
//! compare-and-swap, as a cancellation without a cause does, and allocates
//! nothing to keep it.

use std::sync::{Arc, LazyLock};

use crate::error::Cause;
use crate::request::RequestEnded;

/// One of the crate's static causes; its code in a node's state is never 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StaticCause {
    Responded = 1,
    Abandoned = 2,
}

static RESPONDED: LazyLock<Cause> = LazyLock::new(|| Arc::new(RequestEnded::Responded));
static ABANDONED: LazyLock<Cause> = LazyLock::new(|| Arc::new(RequestEnded::Abandoned));

impl StaticCause {
    /// The cause a request's end gives.
    pub(crate) fn of_request_end(why: RequestEnded) -> StaticCause {
        match why {
            RequestEnded::Responded => StaticCause::Responded,
            RequestEnded::Abandoned => StaticCause::Abandoned,
        }
    }

    /// The shared cause itself.
    pub(crate) fn cause(self) -> &'static Cause {
        match self {
            StaticCause::Responded => &RESPONDED,
            StaticCause::Abandoned => &ABANDONED,
        }
    }

    /// Which static `cause` is, if it is one: by address, so a cause a user
    /// made of an equal value is not.
    pub(crate) fn find(cause: &Cause) -> Option<StaticCause> {
        [StaticCause::Responded, StaticCause::Abandoned]
            .into_iter()
            .find(|known| Arc::ptr_eq(cause, known.cause()))
    }

    /// Its code in a node's state (1 to 3).
    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// The static cause of `code`; `None` for 0, a cause kept by the node.
    pub(crate) fn from_code(code: u8) -> Option<StaticCause> {
        match code {
            1 => Some(StaticCause::Responded),
            2 => Some(StaticCause::Abandoned),
            _ => None,
        }
    }
}
