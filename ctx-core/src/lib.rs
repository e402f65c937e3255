//! The runtime context tree behind the [`goctx`](https://docs.rs/goctx)
//! crate (imported as `ctx`). Depend on `goctx`, which re-exports everything
//! here.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod after_func;
mod clock;
mod context;
mod deadline;
mod done;
mod error;
#[cfg(feature = "axum")]
mod extract;
mod handle;
mod merge;
mod node;
mod observe;
mod parked;
mod report;
mod request;
#[cfg(feature = "axum")]
mod response;
mod scoped;
mod static_cause;
mod status;
mod sync;
mod values;

#[cfg(any(feature = "testing", feature = "test-util"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "testing", feature = "test-util"))))]
pub mod testing;
pub use context::Context;
pub use done::{Done, DoneOwned, Run};
pub use error::{Cause, Error, RuntimeGone};
/// Documented where users meet it, as `ctx::http::MissingContext`.
#[cfg(feature = "axum")]
#[doc(hidden)]
pub use extract::MissingContext;
/// Documented where users meet it, as `ctx::http::RequestEnded`.
#[doc(hidden)]
pub use request::RequestEnded;
pub use scoped::{ContextStream, ScopedFuture, ScopedStream, SpawnHandle};
/// What the facade's `ctx::__private` (the runtime of the macros' generated
/// code) and `ctx::testing` forward from the core. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::detach::{detach, panic_message};
    pub use crate::done::check;
    pub use crate::values::ShortTypeName;
}
/// Where `ctx::http` keeps a request's context. Not public API.
#[doc(hidden)]
pub mod __request {
    pub use crate::request::{caller, with_caller, with_values, RequestContext, RequestEnd};
}
pub use handle::{AfterFuncHandle, CancelGuard};
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
pub use detach::{DetachError, Detached, DetachedOutcome, DetachedTracker, DrainReport};
