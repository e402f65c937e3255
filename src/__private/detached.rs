//! What `ctx-macros`' `detached.rs` generates: a `#[detached]` fn spawns
//! its body with [`detach`] and returns its [`Detached`] handle.
//!
//! The generated fn keeps the user's signature with `async` removed and
//! the return type `R` made `Detached<R>`. It first checks each other
//! argument with [`detach_arg`] (at that argument: the work takes it to
//! another thread for as long as it runs), then calls
//! `detach::<R, _, _>(name, &ctx, timeout, move |ctx| async move { body })`,
//! `name` being the fn's name (for the logs and `DetachError`), `ctx` the
//! caller's context (of any scope: only its values go on), `timeout` the
//! option's budget, and `body` the checked body `body.rs` generates, bound
//! to the parameter's pattern as written.

/// Spawns the body of a `#[detached]` fn (see the module docs): on the
/// current Tokio runtime, with `ctx.without_cancel()` cut short by the
/// timeout, registered with the tracker `ctx` carries
/// (`DetachedTracker::of`). `R` must be a `DetachedOutcome`, so a failure
/// nobody awaits is logged.
pub use ctx_core::__private::detach;
/// The handle a `#[detached]` fn returns.
pub use ctx_core::Detached;

/// What an argument of a `#[detached]` fn must be: the work takes it to
/// another thread, for as long as it runs.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be moved into `#[detached]` work: its arguments must be `Send + 'static`",
    label = "the detached work runs on another thread, after its caller returns",
    note = "pass an owned, thread-safe value instead (e.g. `Arc<..>` rather than `Rc<..>`, `String` rather than `&str`)"
)]
pub trait DetachArg: Send + 'static {}

impl<T: Send + 'static> DetachArg for T {}

/// Checks, at compile time and at the argument, that `#[detached]` work
/// can take it.
#[inline(always)]
pub fn detach_arg<T: DetachArg>(_: &T) {}
