#![doc = include_str!("../docs/guide.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use ctx_core::*;

mod checked;

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use ctx_macros::{ctx_fn, detached};

/// What `#[ctx_fn]` and `#[detached]` expand to names, and nothing else.
/// Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::checked::{
        check, checkpoint, clone_context, context_param, detach_arg, guard, AsContext,
        ContextParam, ContextUnderAnotherName, NotAContext, Probe, Shield,
    };
    /// Spawns detached work; with `tracing`, in the caller's current span.
    pub use ctx_core::__detach as detach;
    pub use ctx_core::{Context, Detached};

    /// A `#[ctx_fn]`'s return type: `Result<T, E>`, for any `E` (which
    /// [`CtxFnError`] checks on its own, so a missing `From` is reported
    /// with its own message).
    #[diagnostic::on_unimplemented(
        message = "`#[ctx_fn]` fns must return `Result<_, E>` with `E: From<ctx::Error>`, not `{Self}`",
        label = "change this to `Result<_, E>`: a canceled context returns `Err(E::from(ctx::Error))`"
    )]
    pub trait CtxFnReturn {
        /// The `E` of `Result<T, E>`.
        type Error;
        /// `Err(error)`.
        fn err(error: Self::Error) -> Self;
    }

    impl<T, E> CtxFnReturn for ::core::result::Result<T, E> {
        type Error = E;
        fn err(error: E) -> Self {
            Err(error)
        }
    }

    /// An error type a `#[ctx_fn]` can return a context's error in.
    #[diagnostic::on_unimplemented(
        message = "implement `From<ctx::Error>` for `{Self}`: a `#[ctx_fn]` returns the context's error as `Err({Self}::from(err))`",
        label = "`{Self}` cannot hold a `ctx::Error`",
        note = "or return an error type that already has it: `ctx::Error`, `std::io::Error`, `Box<dyn std::error::Error + Send + Sync>`"
    )]
    pub trait CtxFnError: From<crate::Error> {}

    impl<E: From<crate::Error>> CtxFnError for E {}

    /// Returns a context's error from a `#[ctx_fn]`: bound once per fn, at
    /// its return type, which it checks.
    pub fn bail<R>(error: crate::Error) -> R
    where
        R: CtxFnReturn,
        R::Error: CtxFnError,
    {
        R::err(From::from(error))
    }
}

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod http;

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
