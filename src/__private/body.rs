//! What `ctx-macros`' `body.rs` generates: the checked body's way out.
//!
//! A `#[ctx_fn]` body (and a `#[detached]` task's) binds
//! `let __bail = <crate>::__private::bail;` once, spanned at the fn's
//! return type, and every place that finds the context done (the entry
//! check, each checked await, the whole-body race) returns
//! `__bail(err)`. So a wrong return type is one error, at the return
//! type, whatever the number of awaits: [`CtxFnReturn`] says the type is
//! not a `Result`, [`CtxFnError`] that its error cannot hold a
//! `ctx::Error`.

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
