//! Go's `context` for async Rust: cancellation, deadlines, causes and
//! request-scoped values, with attribute macros that make the discipline
//! automatic.
//!
//! This is the facade crate: depend on `ctx` only. The runtime context tree
//! lives in `ctx-core` and is re-exported here in full; see [`Context`] for
//! the guide, including the "Coming from Go" table.

pub use ctx_core::*;
