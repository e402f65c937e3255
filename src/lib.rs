#![doc = include_str!("../docs/guide.md")]

pub use ctx_core::*;

/// HTTP integration (feature `axum`): a tower layer giving every request a
/// context, an axum extractor, and `grpc-timeout` deadline propagation.
#[cfg(feature = "axum")]
pub mod http;
