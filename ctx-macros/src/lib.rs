//! Attribute macros for the [`ctx`](https://docs.rs/ctx) crate:
//! [`#[ctx_fn]`](macro@ctx_fn) and [`#[detached]`](macro@detached).
//! Depend on `ctx`, which re-exports them.

mod attr;
mod awaits;
mod expand;
mod roots;
mod signature;

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
/// The context is the first parameter, after `self` if any, taken as
/// `Context` or `&Context` (a parameter whose type is a path ending in
/// `Context` without generic arguments, so `std::task::Context<'_>` is not
/// one). A context parameter anywhere else, or a second one, is a compile
/// error at that parameter. A fn without one gets `ctx: Context` inserted
/// first: its callers pass a context, and rustdoc shows it.
///
/// # Checked awaits
///
/// At entry, a context that is already done returns its error before the
/// body runs. Then every `.await` of the body races the context: if the
/// context is done first, the awaited future is dropped on the spot (no
/// work leaks, unlike Go's `httpDo` whose goroutine outlives it) and the
/// fn returns `Err(From::from(err))`, `err` being the [`ctx::Error`].
///
/// Only the fn's own awaits are checked. Awaits inside closures, async
/// blocks and nested items belong to another future, which is raced as a
/// whole where the fn awaits it. Awaits inside macro invocations are not
/// seen: `tokio::join!` and `tokio::select!` run unchecked. Wrap such a
/// macro in an async block that the fn awaits
/// (`async { tokio::join!(a, b) }.await`), or give `select!` a
/// `_ = ctx.done()` branch.
///
/// The awaits race the context the fn was called with. A context derived
/// in the body (`let (ctx, _cancel) = ctx.with_timeout(..)`) governs the
/// calls it is passed to, not the fn's own awaits: race a future against
/// it explicitly with `ctx.run(fut).await`.
///
/// To let one statement's awaits finish even if the context is done
/// (a flush, a rollback), mark the statement `#[uncancelable]`:
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
/// Inside the body (closures and async blocks included, nested items not):
///
/// - `Context::background()` and `Context::todo()` are errors (Go's
///   contextcheck): use the context parameter, or `ctx.without_cancel()`
///   for work that must outlive the call but keep its values.
/// - Fire-and-forget spawned work that captures the context (a
///   `tokio::spawn`, `tokio::task::spawn_blocking` or `std::thread::spawn`
///   whose handle is discarded, and which uses the context or a local
///   derived from it) is an error that names `#[detached]` as the fix: the
///   context is canceled when the fn returns, so the work races its own
///   cancellation. Spawned work whose handle is kept (and awaited) is
///   structured concurrency, and compiles.
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
/// async fn fetch(ctx: Context, key: u32) -> Result<u32, Error> {
///     // Checks the return type, once, at the return type.
///     let __bail = ::ctx::__private::bail;
///     if let Some(__err) = ::ctx::__private::Context::err(&ctx) {
///         return __bail(__err);
///     }
///     // A clone, so the body may still move `ctx` into an awaited call.
///     let __ctx: ::ctx::__private::Context = ::ctx::__private::Context::clone(&ctx);
///     {
///         match ::ctx::__private::Context::run(&__ctx, pending::<()>()).await {
///             Ok(__output) => __output,
///             Err(__err) => return __bail(__err), // Err(From::from(__err))
///         };
///         Ok(key)
///     }
/// }
/// ```
///
/// [`ctx::Error`]: https://docs.rs/ctx/latest/ctx/enum.Error.html
#[proc_macro_attribute]
pub fn ctx_fn(args: TokenStream, item: TokenStream) -> TokenStream {
    let (args, error) = parse_args::<attr::CtxFnArgs>(args);
    with_error(error, expand::ctx_fn(args, item.into()))
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
/// - The first parameter is the context, `Context` by value. The body sees
///   `ctx.without_cancel()` under that name, with the `timeout` if given.
/// - Every parameter must be owned and `'static`, the work outliving its
///   caller: a reference, a non-`'static` lifetime or `&self` is a compile
///   error at that parameter (take `self: Arc<Self>` instead).
/// - The body is checked like a [`#[ctx_fn]`](macro@ctx_fn)'s (it returns
///   `Result<T, E>` with `E: From<ctx::Error>`, its awaits race its own
///   context), so a `timeout` cuts it short.
/// - The handle resolves to the body's result, or to a [`DetachError`] if
///   the body panicked (the panic is caught and reported there, never
///   taking the process down). Dropping the handle does not cancel the work.
/// - Fire and forget by calling it as a statement (`publish(ctx, msg);`):
///   the handle is not `#[must_use]`.
/// - Every call is tracked: `ctx::wait_detached(&shutdown_ctx)` waits for
///   all outstanding detached work, bounded by a context, before exit.
/// - Calling it outside a Tokio runtime panics with a message that says so.
///
/// # Options
///
/// - `timeout = "5s"`: the work's own budget, Go's
///   `WithTimeout(WithoutCancel(ctx), d)`. A Go-style duration: `"250ms"`,
///   `"1m30s"`, `"1.5h"` (units `ns`, `us`, `ms`, `s`, `m`, `h`).
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
/// ctx::wait_detached(&shutdown).await.expect("detached work still running");
/// # }
/// ```
///
/// # What this expands to
///
/// ```ignore
/// #[track_caller]
/// fn publish(ctx: Context, message: String) -> ::ctx::__private::Detached<Result<String, Error>> {
///     ::ctx::__private::detach::<Result<String, Error>, _, _>(
///         "publish",
///         &ctx,
///         Some(Duration::from_nanos(5_000_000_000)),
///         // Runs `ctx.without_cancel().with_timeout(5s)` through the
///         // body, spawned and tracked.
///         move |ctx: ::ctx::__private::Context| async move {
///             /* the body, as #[ctx_fn] expands it */
///         },
///     )
/// }
/// ```
///
/// [`Detached`]: https://docs.rs/ctx/latest/ctx/struct.Detached.html
/// [`DetachError`]: https://docs.rs/ctx/latest/ctx/struct.DetachError.html
#[proc_macro_attribute]
pub fn detached(args: TokenStream, item: TokenStream) -> TokenStream {
    let (args, error) = parse_args::<attr::DetachedArgs>(args);
    with_error(error, expand::detached(args, item.into()))
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
