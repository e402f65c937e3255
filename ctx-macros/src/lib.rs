//! Attribute macros for the [`goctx`](https://docs.rs/goctx) crate
//! (imported as `ctx`): [`#[ctx_fn]`](macro@ctx_fn) and
//! [`#[detached]`](macro@detached). Depend on `goctx`, which re-exports them.

// The modules import one way: `lib.rs` parses the options (`attr.rs`) and
// hands the fn to `ctx_fn.rs` or `detached.rs`, each a validate → rewrite
// → emit of its macro; both build their body with `body.rs`, which
// rewrites the awaits with `awaits.rs` and the `#[uncancelable]`
// statements with `uncancelable.rs`; `signature.rs`, `static_scope.rs`,
// `debug_handler.rs` and `roots.rs` check what their names say; `item.rs`
// and `tokens.rs` are shared helpers. What the generated code calls is in
// `ctx::__private`, one module there for each module here that generates
// a call, under the same name, stating its contract.
mod attr;
mod awaits;
mod body;
mod ctx_fn;
mod debug_handler;
mod detached;
mod item;
mod roots;
mod signature;
mod static_scope;
mod tokens;
mod uncancelable;

use proc_macro::TokenStream;

/// Makes a fn follow the context discipline: its context comes first, a
/// done context stops it at entry and at every `.await`, and the classic
/// misuses do not compile.
///
/// Works on free fns, inherent and trait impl methods, generic fns, sync
/// and async fns, and fns returning `Result<impl Trait, E>`.
///
/// # The context parameter
///
/// The context is the first parameter, after `self` if any, found by its
/// type: `Context`, `ctx::Context` or `::ctx::Context`, by value or by
/// reference, with or without a scope. Other types named `Context` written
/// by their path (`std::task::Context<'_>`, `opentelemetry::Context`) are
/// ordinary parameters; a bare `Context` that is not this crate's, or this
/// crate's under another name (a type alias), is a compile error that says
/// so. A context parameter anywhere else, or a second one, is a compile
/// error at that parameter. A fn without one gets `ctx: Context` inserted
/// first: its callers pass a context, and rustdoc shows it.
///
/// An unnamed scope (`ctx: Context`, `Context<'_>`) is named
/// `'request_use_without_cancel_to_outlive_it`, so that the compiler's
/// message about a context escaping the call reads as the fix (see below).
/// The name cannot clash with a lifetime of an enclosing `impl`
/// (`impl<'request> Session<'request>` is fine), and the macro picks
/// another if the fn declares it.
///
/// # The scope is never `'static`
///
/// A `#[ctx_fn]` fn uses the request's context for the call, never past
/// it, so its context parameter's scope cannot be `'static`: writing
/// `Context<'static>` (or `ctx::Context<'static>`, `&'static Context`,
/// `&Context<'static>`), or a bound that forces the scope to be `'static`
/// (`<'a: 'static>`, `where 'a: 'static`, `where Context<'a>: 'static`,
/// or `'a: 'b, 'b: 'static`), is a compile error at the `'static`:
///
/// ```text
/// error: remove `'static` (write `ctx: Context`): a `#[ctx_fn]` fn uses its context
///        for the call, never past it; for work that must outlive the request, pass
///        `ctx.without_cancel()` or call a `#[detached]` fn
/// ```
///
/// Write `ctx: Context`; hand work that must outlive the request
/// `ctx.without_cancel()`, or make it a `#[detached]` fn (whose own
/// context may be `'static`). A bound on an enclosing `impl`
/// (`impl<'a: 'static>`) is outside the macro's sight; there the run time
/// reports a context used after its request was answered.
///
/// # `#[axum::debug_handler]`
///
/// Put `#[ctx_fn]` above `#[axum::debug_handler]` and write the context as
/// anywhere else (`ctx: Context`, or none). `debug_handler` takes no
/// generic fn, so the parameter becomes a `'static` extractor the body
/// borrows the context from: it still cannot escape the call, and an
/// escape reads "`request_use_without_cancel_to_outlive_it` does not live
/// long enough". Below `#[axum::debug_handler]`, `#[ctx_fn]` runs too late:
/// `debug_handler` reports "missing lifetime specifier" at `Context`.
///
/// # Checked awaits
///
/// At entry, a context that is already done returns its error before the
/// body runs. Then every `.await` of the body races the context: if the
/// context is done first, the awaited future is dropped on the spot (no
/// work leaks, unlike Go's `httpDo` whose goroutine outlives it) and the
/// fn returns `Err(From::from(err))`, `err` being the [`ctx::Error`].
///
/// - Each await checks the context before it polls, so a loop of
///   always-ready awaits stops at the next await once the context is done.
/// - An await races the context *in scope where it stands*, however the
///   name was rebound: after `let (ctx, _cancel) = ctx.with_timeout(..)`,
///   in a `match` arm, `if let`, `while let` or `for` whose pattern binds
///   `ctx`, or after `ctx = child;`, the awaits race the child's budget,
///   whatever the body's shape (one that calls a macro or moves its
///   context included). A binding named `ctx` that is not a context is
///   fine where no checked await stands in its scope (a closure's
///   parameter, a block with no await); an await in its scope is a compile
///   error at the binding or the await, which says so.
/// - Awaits in macro arguments (`format!("{}", x.await)`) are checked like
///   any other, and so are awaits hidden inside macros (`tokio::select!`,
///   `join!`, `try_join!`, your own): a body that calls a macro is also
///   raced as a whole against the fn's context.
/// - Closures and async blocks are other futures: their awaits are not
///   rewritten, and they are raced as a whole where the fn awaits them.
///
/// When an await loses the race, the code after it does not run: the fn
/// returns, and every local is dropped as when a future is dropped. To let
/// a statement's awaits finish even if the context is done (a flush, a
/// rollback, a record that must match a charge), mark it `#[uncancelable]`;
/// the first checked await after it reports the cancellation:
///
/// ```ignore
/// #[uncancelable]
/// let receipt = ledger.commit(txn).await;
/// ```
///
/// The context parameter may be `_: Context` when the body only needs its
/// awaits checked.
///
/// # Return type
///
/// `Result<T, E>` with `E: From<ctx::Error>` (as [`ctx::Error`],
/// `std::io::Error` and `Box<dyn Error + Send + Sync>` are). Anything else
/// is a compile error at the return type that says so.
///
/// # Compile-time checks
///
/// - A context received by a fn cannot outlive the call: moving it, a
///   clone, a child or anything holding one into `tokio::spawn`, a thread,
///   an `after_func` or a `static` is rejected by the type system, whatever
///   the spawner is called (`` `ctx` escapes the function body here ...
///   argument requires that `'request_use_without_cancel_to_outlive_it`
///   must outlive `'static` ``). Use
///   `ctx.without_cancel()` or a `#[detached]` fn for work that must outlive
///   the call, `ctx.spawn(..)` for work that should end with it.
/// - `Context::background()` and `Context::todo()` in the body (closures
///   and async blocks included, nested items not) are errors, Go's
///   contextcheck: use the context parameter, or `ctx.without_cancel()`.
/// - `const fn` is an error, and so is a method `#[async_trait]` has
///   already turned into a boxed future (use a native `async fn` in the
///   trait).
///
/// # Composing with other attributes
///
/// Inner attributes of the body (`#![allow(..)]`) are kept. Put
/// `#[ctx_fn]` above `#[tracing::instrument]`: below it, it still works,
/// but sees the body as one instrumented future, raced as a whole.
///
/// # Options
///
/// `#[ctx_fn(crate = path)]`: the path of the `ctx` crate, if the
/// dependency is renamed.
///
/// # Examples
///
/// ```
/// use std::future::pending;
/// use std::time::Duration;
/// use ctx::{ctx_fn, Context, Error};
///
/// #[ctx_fn]
/// async fn fetch(ctx: Context, key: u32) -> Result<u32, Error> {
///     pending::<()>().await; // a slow backend
///     Ok(key)
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(1));
/// assert_eq!(fetch(ctx, 7).await, Err(Error::DeadlineExceeded));
/// # }
/// ```
///
/// # What this expands to
///
/// `fetch` above becomes (names starting with `__` are hygienic, the body
/// cannot see them):
///
/// ```ignore
/// async fn fetch<'request_use_without_cancel_to_outlive_it>(
///     ctx: Context<'request_use_without_cancel_to_outlive_it>,
///     key: u32,
/// ) -> Result<u32, Error> {
///     // Checks the return type, once, at the return type.
///     let __bail = ::ctx::__private::bail;
///     if let Some(__err) = ::ctx::__private::Context::err(&ctx) {
///         return __bail(__err);
///     }
///     ::ctx::__private::context_param(&ctx); // it is `ctx::Context`
///     { ::ctx::__private::Probe::<u32>::not_a_context(); } // `key` is not one
///     let __shield_storage = ::ctx::__private::Shield::default();
///     let __shield = &__shield_storage;
///     {
///         // Races `ctx` as it is in scope here, borrowed: no clone.
///         match ::ctx::__private::race(&ctx, pending::<()>()).await {
///             Ok(__output) => __output,
///             Err(__err) => return __bail(__err), // Err(From::from(__err))
///         };
///         Ok(key)
///     }
/// }
/// ```
///
/// A body that calls a macro, whose expansion may hide awaits
/// (`select!`, `join!`), is also raced as a whole:
/// `::ctx::__private::race_body(&ctx, __shield, async { .. })` registers with
/// the context once and drops the body when it is done, and each visible
/// await then only checks the context before it polls, except where `ctx`
/// was rebound (there it races the context in scope), or everywhere if the
/// body assigns `ctx`. A body that moves its context (into a call, a
/// closure) races a clone taken at entry, and taken again where a
/// rebinding of `ctx` has a checked await in its scope.
///
/// [`ctx::Error`]: https://docs.rs/goctx/latest/ctx/enum.Error.html
#[proc_macro_attribute]
pub fn ctx_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    let (args, error) = parse_args::<attr::CtxFnArgs>(args);
    with_error(error, ctx_fn::ctx_fn(args, item.into()))
}

/// Makes an async fn start its work in the background: calling it spawns
/// the body on Tokio with the caller's context minus its cancellation
/// (Go's `context.WithoutCancel`) and returns a [`Detached`] handle at once.
///
/// This is the fix for work that must outlive the request that starts it
/// (publishing, auditing, cache warming): it keeps the request's values
/// (trace id, user) but is not canceled when the request is, and it cannot
/// be forgotten at shutdown.
///
/// - The first parameter is the context, `Context` by value, of any scope:
///   calling a `#[detached]` fn with the request's context is the one easy
///   way to hand work past the request's end. The body sees
///   `ctx.without_cancel()` (a `Context<'static>`) under that name, with
///   the `timeout` if given.
/// - Every other argument must be `Send + 'static`, the work outliving its
///   caller: a reference, a non-`'static` lifetime or `&self` is a compile
///   error at that parameter (take `self: Arc<Self>` instead). Callbacks
///   that take references are fine: `fn(&str) -> usize`,
///   `Box<dyn Fn(&str) + Send + Sync>`, `impl Fn(&str) + Send + 'static`.
/// - The body is checked like a [`#[ctx_fn]`](macro@ctx_fn)'s (it returns
///   `Result<T, E>` with `E: From<ctx::Error>`, its awaits race its own
///   context), so a `timeout` cuts it short.
/// - The handle resolves to the body's result, or to a [`DetachError`] if
///   the body panicked (the panic is caught and reported there, never
///   taking the process down). Dropping the handle does not cancel the work.
/// - Fire and forget by calling it as a statement (`publish(ctx, msg);`):
///   the handle is not `#[must_use]`.
/// - Every call is tracked by the [`DetachedTracker`] its context carries
///   (the process-wide one if it carries none):
///   `DetachedTracker::of(&shutdown).drain(&shutdown)` waits for all
///   outstanding detached work, bounded by a context, before exit.
/// - Calling it outside a Tokio runtime panics with a message that says so.
///
/// # Options
///
/// - `timeout = "5s"`: the work's own budget, Go's
///   `WithTimeout(WithoutCancel(ctx), d)`. A Go-style duration: `"250ms"`,
///   `"1m30s"`, `"1.5h"` (units `ns`, `us`, `ms`, `s`, `m`, `h`); zero is an
///   error.
/// - `crate = path`: the path of the `ctx` crate, if the dependency is
///   renamed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use ctx::{detached, Context, Error};
///
/// struct RequestId(u64);
///
/// #[detached(timeout = "5s")]
/// async fn publish(ctx: Context, message: String) -> Result<String, Error> {
///     tokio::time::sleep(Duration::from_secs(1)).await;
///     let id = ctx.value::<RequestId>().map_or(0, |id| id.0);
///     Ok(format!("{message} (request {id})"))
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let (request, cancel) = Context::background().with_value(RequestId(7)).with_cancel();
/// let published = publish(request, "hello".to_owned());
/// cancel.cancel(); // the response is written: the request is over
///
/// assert_eq!(published.await.unwrap(), Ok("hello (request 7)".to_owned()));
///
/// let (shutdown, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
/// let report = ctx::DetachedTracker::of(&shutdown).drain(&shutdown).await;
/// assert_eq!(report.running, 0, "detached work still running: {report}");
/// # }
/// ```
///
/// # What this expands to
///
/// ```ignore
/// #[track_caller]
/// fn publish<'request_use_without_cancel_to_outlive_it>(ctx: Context<'request_use_without_cancel_to_outlive_it>, message: String) -> ::ctx::__private::Detached<Result<String, Error>> {
///     ::ctx::__private::detach::<Result<String, Error>, _, _>(
///         "publish",
///         &ctx,
///         Some(Duration::from_nanos(5_000_000_000)),
///         // Runs `ctx.without_cancel().with_timeout(5s)` through the
///         // body, spawned and tracked.
///         move |ctx: ::ctx::__private::Context<'static>| async move {
///             /* the body, as #[ctx_fn] expands it */
///         },
///     )
/// }
/// ```
///
/// [`Detached`]: https://docs.rs/goctx/latest/ctx/struct.Detached.html
/// [`DetachError`]: https://docs.rs/goctx/latest/ctx/struct.DetachError.html
/// [`DetachedTracker`]: https://docs.rs/goctx/latest/ctx/struct.DetachedTracker.html
#[proc_macro_attribute]
pub fn detached(args: TokenStream, item: TokenStream) -> TokenStream {
    let (args, error) = parse_args::<attr::DetachedArgs>(args);
    with_error(error, detached::detached(args, item.into()))
}

/// Parses the options; malformed ones fall back to the defaults, so the
/// fn still expands and the attribute is the only error.
fn parse_args<T: syn::parse::Parse + Default>(args: TokenStream) -> (T, Option<syn::Error>) {
    match syn::parse::<T>(args) {
        Ok(args) => (args, None),
        Err(err) => (T::default(), Some(err)),
    }
}

fn with_error(error: Option<syn::Error>, expanded: proc_macro2::TokenStream) -> TokenStream {
    let error = error.map(|err| err.to_compile_error());
    quote::quote!(#error #expanded).into()
}
