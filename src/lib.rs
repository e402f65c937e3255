#![doc = include_str!("../docs/guide.md")]

pub use ctx_core::*;
