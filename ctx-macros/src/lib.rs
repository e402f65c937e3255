//! Attribute macros for the `ctx` crate.
