//! The runtime context tree behind the [`goctx`](https://docs.rs/goctx)
//! crate (imported as `ctx`). Depend on `goctx`, which re-exports everything
//! here.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod after_func;
mod checkpoint;
mod context;
mod deadline;
mod done;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod handle;
mod merge;
mod node;
mod parked;
#[cfg(feature = "axum")]
mod response;
mod status;
mod sync;
mod timer;
mod values;

/// The hook of `ctx::testing` (feature `testing`). Not public API.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod __testing {
    pub use crate::checkpoint::{observe, reached, Event, Reached};
}
pub use context::Context;
pub use done::{Done, DoneOwned, Run};
pub use error::{Cause, Error};
/// Documented where users meet it, as `ctx::http::MissingContext`.
#[cfg(feature = "axum")]
#[doc(hidden)]
pub use extract::MissingContext;
pub use handle::AfterFuncHandle;
// Go's names as search aliases: rustdoc keeps those of a re-export, not
// those of the re-exported type.
#[doc(alias = "CancelCauseFunc")]
pub use handle::CancelCauseHandle;
#[doc(alias = "CancelFunc")]
pub use handle::CancelHandle;
/// The instant type of deadlines: tokio's, so `tokio::time::pause()` makes
/// deadline code deterministic in tests.
pub use tokio::time::Instant;
mod detach;
pub use detach::{
    __detach, detached_running, wait_detached, DetachError, Detached, DetachedOutcome,
    DetachedTracker, DrainReport,
};
