//! What `ctx-macros`' `signature.rs` generates: the compile-time checks
//! that make its guess of the context parameter, by the name of its type,
//! sound.
//!
//! - `let _ = context_param::<T>;`, `T` the type of the parameter taken
//!   for the context as written: fails, with a message, unless it is a
//!   `ctx::Context` (a bare `Context` imported from elsewhere).
//! - `Probe::<T>::not_a_context();` for every other parameter whose type
//!   can be written, with [`NotAContext`] in scope: fails, with a message,
//!   when `T` is a `ctx::Context` under another name (a type alias), which
//!   would otherwise get a second context inserted beside it.

use ctx_core::Context;

/// The type of a parameter `#[ctx_fn]` took for the context by its name.
#[diagnostic::on_unimplemented(
    message = "`#[ctx_fn]` took this parameter for the context, but `{Self}` is not `ctx::Context`",
    label = "a parameter whose type is named `Context` is taken for the context",
    note = "write the other type by its path (e.g. `opentelemetry::Context`) to pass it as an ordinary parameter; `#[ctx_fn]` then inserts `ctx: ctx::Context` first"
)]
pub trait ContextParam {}

impl ContextParam for Context<'_> {}
impl ContextParam for &Context<'_> {}

/// Checks, at compile time, that a parameter taken for the context is one.
#[inline(always)]
pub fn context_param<C: ContextParam>(_: &C) {}

/// Probes a parameter's type for being a context under another name (a
/// type alias): [`Probe::not_a_context`] resolves to the inherent fn for a
/// context, whose bound fails with a message, and to [`NotAContext`]'s
/// for every other type.
pub struct Probe<T: ?Sized>(std::marker::PhantomData<T>);

/// The fallback of [`Probe::not_a_context`]: the type is not a context.
pub trait NotAContext {
    /// Nothing to report.
    #[inline(always)]
    fn not_a_context() {}
}

impl<T: ?Sized> NotAContext for Probe<T> {}

/// Never implemented: a context reached through another name.
#[diagnostic::on_unimplemented(
    message = "this parameter is a `ctx::Context` under another name, and `#[ctx_fn]` finds the context by the name `Context`",
    label = "a context, but not named `Context`",
    note = "write its type as `Context` (or `ctx::Context`) and put it first, so `#[ctx_fn]` uses it instead of inserting a second context"
)]
pub trait ContextUnderAnotherName {}

impl<'a> Probe<Context<'a>> {
    /// Fails to compile: see [`ContextUnderAnotherName`].
    pub fn not_a_context()
    where
        Self: ContextUnderAnotherName,
    {
    }
}

impl<'a, 'b> Probe<&'b Context<'a>> {
    /// Fails to compile: see [`ContextUnderAnotherName`].
    pub fn not_a_context()
    where
        Self: ContextUnderAnotherName,
    {
    }
}
