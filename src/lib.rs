//! Go's `context` for async Rust: cancellation, deadlines, causes and
//! request-scoped values, carried across API boundaries and tasks, with
//! attribute macros that make Go's discipline automatic.
//!
//! The package is `goctx`; its crate is imported as `ctx`:
//!
//! ```toml
//! [dependencies]
//! goctx = { version = "0.1", features = ["axum"] }
//! ```
//!
//! A [`Context`] says three things to the code it is passed to: *stop when I
//! am done* ([`err`](Context::err), [`done`](Context::done),
//! [`run`](Context::run)), *finish by then* ([`deadline`](Context::deadline)),
//! and *here is who is asking* ([`value`](Context::value)). Contexts form a
//! tree: each derivation makes a child, cancelling a context cancels its
//! subtree, never its ancestors.
//!
//! ```
//! use std::time::Duration;
//! use ctx::{Context, Error};
//!
//! #[derive(Clone, Debug, PartialEq)]
//! struct TraceId(String);
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! // At the edge: a request context with a trace id and a budget.
//! let request = Context::background().with_value(TraceId("4bf92f35".into()));
//! let (ctx, _cancel) = request.with_timeout(Duration::from_millis(100));
//!
//! // Deep inside: slow work raced against the context; the loser is dropped.
//! let lookup = ctx.run(tokio::time::sleep(Duration::from_secs(5))).await;
//! assert_eq!(lookup, Err(Error::DeadlineExceeded));
//!
//! // Work that must outlive the request keeps its values, not its end.
//! let background_work = ctx.without_cancel();
//! assert_eq!(background_work.err(), None);
//! assert_eq!(background_work.value::<TraceId>(), Some(&TraceId("4bf92f35".into())));
//! # }
//! ```
//!
//! # The contract
//!
//! - **Who cancels.** The holder of the [`CancelHandle`] returned with a
//!   cancelable context, by calling [`cancel`](CancelHandle::cancel) (or
//!   through its [`drop_guard`](CancelHandle::drop_guard), Go's `defer
//!   cancel()`), the context's deadline, or the same for any ancestor. Nobody
//!   else: a context received as a parameter can be observed, never
//!   cancelled, and dropping a handle does not cancel, so a context is never
//!   ended behind the back of the work it was handed to.
//! - **Who waits.** Anyone holding a clone: [`Context::done`] and
//!   [`Context::done_owned`] complete when it is done, [`Context::run`] races
//!   a future against it, [`Context::after_func`] schedules a callback.
//! - **What is guaranteed.** Cancellation reaches every descendant and no
//!   ancestor; a child of a done context is done at once; a child's deadline
//!   never extends its parent's; a deadline already past cancels at once; the
//!   first cancellation to reach a context wins and its cause sticks;
//!   [`without_cancel`](Context::without_cancel) keeps values and drops
//!   deadline, done and cause; an after-func runs exactly once, with no lock of
//!   the tree held. A context's place in its parent is reclaimed when it is
//!   cancelled or its last clone and handle are gone, and its timer's entry
//!   soon after (freed as later deadlines are armed, as Go sweeps its
//!   stopped timers): Go's lostcancel leak cannot happen.
//! - **What it costs.** Cloning a context is one atomic increment;
//!   [`err`](Context::err) and [`is_done`](Context::is_done) are an atomic load
//!   or two, without locks; a child registers with its parent only once
//!   something waits on it, so making and cancelling the contexts nothing waits
//!   on never touches their parent, and cancelling one (without a cause) takes
//!   no lock (a context whose last clone and handle are gone, with nothing
//!   registered, is freed without a cancellation nobody could see); a deadline
//!   adds no allocation, only a push onto the arming thread's heap of
//!   deadlines, which its cancellation leaves alone; a `select!` loop that
//!   makes a new [`done`](Context::done) every turn registers its task's waker
//!   once, not every turn; [`value`](Context::value) is a binary search of one
//!   table, at any depth; [`Context::background`] and [`Context::todo`]
//!   allocate nothing.
//!
//! # A context cannot outlive the call
//!
//! A context you receive cannot outlive the call; `without_cancel()` and
//! `#[detached]` are the way out. The type says so: `Context<'a>` carries the
//! scope it may be used in. Roots ([`Context::background`], [`Context::todo`])
//! and [`without_cancel`](Context::without_cancel) are `Context<'static>`;
//! every other derivation and every clone keep their parent's scope. A fn
//! that takes `ctx: Context<'_>` can read it, pass it on and await work that
//! holds it, but moving it — or a clone, a child, a struct or future holding
//! one — into `tokio::spawn` (under any name), `spawn_blocking`, a thread, an
//! [`after_func`](Context::after_func) or a `static` does not compile:
//!
//! ```text
//! error[E0521]: borrowed data escapes outside of function
//!   |
//! 4 | async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
//!   |                  --- `ctx` is a reference that is only valid in the function body
//! 5 |     tokio::spawn(publish(ctx.clone(), msg));
//!   |     ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
//!   |     |
//!   |     `ctx` escapes the function body here
//!   |     argument requires that `'request_use_without_cancel_to_outlive_it` must outlive `'static`
//! ```
//!
//! That is the lost-publish bug of Go services, caught before it runs. The
//! fixes are one word away: `publish(ctx.without_cancel(), msg)` keeps the
//! request's values and drops its end, a `#[detached]` fn does that and
//! tracks the work for shutdown, and [`ctx.spawn(..)`](Context::spawn) is the
//! visible door for work that should end with the context (a server's
//! per-connection tasks). `join!`, `select!` and `std::thread::scope` need no
//! `'static` and keep working. A long-lived struct stores a
//! `Context<'static>`. In a plain `async fn` write the scope as
//! `ctx: Context<'_>` (rustc asks for it); inside `#[ctx_fn]` and
//! `#[detached]`, `ctx: Context` is enough.
//!
//! # The macros
//!
//! With the default `macros` feature, two attributes make the discipline
//! automatic:
//!
//! - [`#[ctx_fn]`](macro@ctx_fn): the context is the first parameter, a done
//!   context stops the fn at entry and at every `.await` — plain, in macro
//!   arguments, inside `select!` and `join!` — dropping the in-flight future,
//!   and `Context::background()` in request code is a compile error.
//!   `#[uncancelable]` marks a statement that must finish (a flush, a
//!   rollback): when an await loses the race, the code after it does not run
//!   and the fn returns its error, except inside such a statement, whose
//!   awaits complete; the next checked await then reports the cancellation.
//! - [`#[detached]`](macro@detached): calling the fn spawns its body with
//!   [`without_cancel`](Context::without_cancel) (and an optional timeout of
//!   its own), returns a [`Detached`] handle at once, and registers the work
//!   with the [`DetachedTracker`] its context carries (a server's, or the
//!   process-wide default), which can [drain](DetachedTracker::drain) it at
//!   shutdown, bounded by a context. Nothing fails silently: every `Err`,
//!   timeout and panic of the work is logged and counted, and the drain's
//!   [`DrainReport`] says how everything ended. With the `tracing` feature,
//!   the work runs in the span that was current where it started, and its
//!   failures are events there.
//!
//! # HTTP
//!
//! With the `axum` feature, [`http::ContextLayer`] gives every request a
//! context (a child of the server's root context, ended when the response,
//! body included, has been sent or the client goes away, carrying a trace id
//! and a request id, with the deadline its caller sent, see below, or a
//! default timeout), a handler takes it as an argument (`ctx: Context`)
//! and may return `Result<T, ctx::Error>`, and [`http::inject`] writes a
//! context's remaining budget into an outgoing request: a deadline set at the
//! edge reaches every service behind it. [`http::Shutdown`] is Go's
//! `Server.Shutdown`: at SIGTERM or Ctrl-C it stops accepting, lets the
//! requests in flight finish within a grace period, then cancels the root
//! (and what still runs) with a cause saying so, drains the server's
//! detached work within a bound, and reports what was cut off.
//!
//! ```no_run
//! # #[cfg(all(feature = "axum", feature = "macros"))]
//! # mod server {
//! use std::time::Duration;
//! use axum::{routing::post, Router};
//! use ctx::http::Shutdown;
//! use ctx::{detached, Context, Error};
//!
//! #[detached(timeout = "5s")]
//! async fn publish(ctx: Context, order: String) -> Result<(), Error> {
//!     // ... to the broker: runs on after the response, drained at shutdown
//!     Ok(())
//! }
//!
//! async fn order(ctx: Context<'_>, body: String) -> Result<String, Error> {
//!     ctx.run(tokio::time::sleep(Duration::from_millis(20))).await?; // the work
//!     publish(ctx.clone(), body.clone());
//!     Ok(format!("{body} accepted"))
//! }
//!
//! pub async fn main() -> std::io::Result<()> {
//!     let shutdown = Shutdown::new().grace(Duration::from_secs(10)).drain(Duration::from_secs(10));
//!     let app = Router::new()
//!         .route("/orders", post(order))
//!         .layer(shutdown.layer().default_timeout(Duration::from_secs(30)));
//!     let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//!     let report = shutdown.serve(axum::serve(listener, app)).await?;
//!     println!("shut down: {report}");
//!     Ok(())
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! # Deadlines across services
//!
//! One budget bounds a whole call tree, across processes: each service turns
//! the budget its caller sent into its request context's deadline, and sends
//! what is left, minus a reserve for itself, to the services it calls. Three
//! hops, a client with 300 ms, the first service keeping 50 ms for itself:
//!
//! ```text
//!  client                      hop 1                       hop 2
//!  budget: 300 ms              ContextLayer:               ContextLayer:
//!  DeadlineLayer,                deadline in 300 ms          deadline in 250 ms
//!    reserve 0                 DeadlineLayer,              slow work, ctx.run(..)
//!    |                           reserve 50 ms               |
//!    |                           |                           |
//!    | GET /search               |                           |
//!    | grpc-timeout: 300000u     |                           |
//!    | traceparent: 00-4bf9..-01 |                           |
//!    |-------------------------->| GET /stock                |
//!    |                           | grpc-timeout: 250000u     |
//!    |                           | traceparent: 00-4bf9..-01 |
//!    |                           |-------------------------->|
//!    |                           |                           |
//!    |               at 250 ms:  | budget spent: the call    | deadline: the
//!    |                           | is dropped (connection    | work is cut
//!    |                           | closed, or RST_STREAM) x--|
//!    | 504 Gateway Timeout       |                           |
//!    | (gRPC: grpc-status: 4)    |                           |
//!    |<--------------------------| 50 ms to spare            |
//!    |
//!  Err(DeadlineExceeded): calling GET http://hop1/search:
//!    the upstream answered 504 Gateway Timeout
//! ```
//!
//! That is what `tests/deadline_hops.rs` runs, over loopback, with axum
//! servers and hyper-util clients and again with tonic servers and channels:
//! hop 1 sees 300 ms, hop 2 sees 250 ms, hop 2's work is cut at 250 ms, and
//! the client has its answer at 250 ms.
//!
//! **Incoming** ([`http::ContextLayer`], feature `axum`). The request's
//! deadline is the tightest of the budgets its caller sent, in any of
//! [`http::DeadlineHeader`]'s headers: gRPC's `grpc-timeout` (`250m`),
//! Connect's `Connect-Timeout-Ms` (`250`) and Envoy's
//! `x-envoy-expected-rq-timeout-ms` (`250`, the route timeout Envoy
//! forwards). Each is honoured unless switched off with
//! [`ContextLayer::deadline_header`], all are capped by
//! [`ContextLayer::max_timeout`] (5 minutes by default), and a malformed one
//! is answered `400 Bad Request` with a body that says what is wrong, before
//! any handler runs. The same layer goes around an axum `Router` and a tonic
//! server (`Server::builder().layer(..)`), whose handlers borrow the context
//! from their request ([`http::RequestContextExt::context`]), for as long as
//! they hold it; a tonic service method hands it to a `#[ctx_fn]` method of
//! the service (the recipe is [`http`]'s "tonic handlers").
//!
//! **Outgoing** ([`http::client::DeadlineLayer`], feature `client`). A tower
//! layer around any client `Service<http::Request<_>>`: hyper-util's legacy
//! `Client`, a tonic `Channel`. For each request it takes the caller's
//! context: [`DeadlineService::call_with(&ctx, request)`], the context a
//! call runs under ([`http::client::with_context(&ctx, call)`], for clients
//! that build their requests themselves, as tonic's do), or a
//! `Context<'static>` in the request's extensions (a root, or a
//! `without_cancel` derivation). It then
//!
//! - fails fast, sending nothing, when the context is done or the budget left
//!   for the upstream after the `reserve` is below `min_budget`;
//! - writes that budget as `grpc-timeout` (and as the other deadline headers
//!   it is told to send) and the trace as `traceparent`, as [`http::inject`]
//!   does;
//! - races the call against the context, with the reserve taken off its
//!   deadline: a cancelled caller drops the call, and an upstream that did not
//!   answer within its budget is dropped when the budget is spent, leaving the
//!   reserve to answer the caller (a 504 rather than silence);
//! - maps an upstream's `504 Gateway Timeout` or gRPC `DEADLINE_EXCEEDED`
//!   back to [`Error::DeadlineExceeded`], in a [`CallError`] naming the hop.
//!
//! **Statuses, both ways.** One mapping, in [`Error::http_status`] and
//! [`Error::grpc_code`]:
//!
//! | [`ctx::Error`] | HTTP | gRPC |
//! |---|---|---|
//! | `DeadlineExceeded` | `504 Gateway Timeout` | `DEADLINE_EXCEEDED` (4) |
//! | `Canceled` | `503 Service Unavailable` | `CANCELLED` (1) |
//!
//! An axum handler returning `Result<T, ctx::Error>` answers with that
//! status (why 503 rather than nginx's 499 is said on [`ctx::Error`]'s
//! `IntoResponse`). With the `tonic` feature, `ctx::Error` converts into
//! [`tonic::Status`], so a tonic handler answers with `ctx.run(work).await?`,
//! and a tonic client sees the client layer's [`CallError`] as that status
//! too.
//! Only the deadline maps back: an upstream's 503 or `CANCELLED` means the
//! upstream itself was cancelled (shutting down, say), which is not the
//! caller's context ending, so it reaches the caller as an ordinary answer.
//! (A tonic server reports its own timer for a budget as `CANCELLED`; the
//! client layer has already ended that call at the budget it sent, so the
//! caller sees `DEADLINE_EXCEEDED`.)
//!
//! [`ContextLayer::deadline_header`]: http::ContextLayer::deadline_header
//! [`ContextLayer::max_timeout`]: http::ContextLayer::max_timeout
//! [`DeadlineService::call_with(&ctx, request)`]: http::client::DeadlineService::call_with
//! [`http::client::with_context(&ctx, call)`]: http::client::with_context
//! [`CallError`]: http::client::CallError
//! [`ctx::Error`]: Error
//!
//! # Reaching the work
//!
//! A context is worth passing when the work takes it. With the `postgres`
//! and `sqlx` features, `ctx::postgres` (tokio-postgres over a
//! deadpool-postgres pool) and `ctx::sqlx` (sqlx's `PgPool`) run every
//! statement under the caller's context, in the shape of Go's
//! `database/sql`: when the context ends, the caller returns at once, the
//! statement stops on the server, and the connection is made clean (or
//! discarded) off the caller's task before the pool sees it again; a
//! transaction is committed whole or not at all. With the `reqwest` feature,
//! `.send_ctx(&ctx)` on a reqwest request (and, with `reqwest-middleware`,
//! a middleware) sends it as the client layer sends tower requests: the
//! remaining budget minus a reserve in the deadline headers, the trace, the
//! call raced against the context, an upstream timeout mapped back.
//!
//! # Merging two contexts
//!
//! [`a.merge(&b)`](Context::merge) is a context done as soon as `a` or `b`
//! is, with the earlier of their deadlines, the error and cause of whichever
//! ended first, `a`'s values, and a [`CancelHandle`] of its own: a request's
//! context and the server's shutdown, a job's context and a user's cancel
//! button. Go proposed it (golang/go#36503) and never shipped it. A merge
//! costs no task: it is a child of `a` that `b` cancels directly, and ending
//! it removes it from both, so merges of contexts that are never done leave
//! nothing behind. Its scope is the shorter of the two.
//!
//! ```
//! use ctx::{Context, Error};
//!
//! let (request, _end_request) = Context::background().with_cancel();
//! let (server, shutdown) = Context::background().with_cancel_cause();
//! let (ctx, _cancel) = request.merge(&server);
//!
//! shutdown.cancel("shutting down");
//! assert_eq!(ctx.err(), Some(Error::Canceled));
//! assert_eq!(ctx.cause().unwrap().to_string(), "shutting down");
//! assert_eq!(request.err(), None, "a merge never cancels its contexts");
//! ```
//!
//! # Testing cancellation points
//!
//! A cancel-safety bug is work left half done when a future is dropped at an
//! `.await`: money charged and never recorded. With the `testing` feature,
//! [`ctx::testing::CancelPoints`](testing::CancelPoints) finds them: it runs
//! an async fn once, counting its checked awaits (the `.await`s of a
//! `#[ctx_fn]`, the [`ctx.run(..)`](Context::run) futures), then once more
//! per await, cancelling the context exactly there, each run on tokio's
//! paused clock so it is deterministic, and hands every outcome to the
//! test's checks; a failure names the await and its line. Awaits the crate does not check are
//! not tried. `cargo run --example cancel_points --features testing` shows it
//! on the story's handler.
//!
//! ```
//! # #[cfg(feature = "testing")] {
//! use std::cell::Cell;
//! use ctx::testing::CancelPoints;
//! use ctx::Context;
//!
//! async fn checkout(ctx: Context<'_>, charged: &Cell<bool>, recorded: &Cell<bool>) {
//!     if ctx.run(tokio::task::yield_now()).await.is_ok() {
//!         charged.set(true);
//!         recorded.set(true); // in the same step: no await between
//!     }
//!     let _ = ctx.run(tokio::task::yield_now()).await;
//! }
//!
//! CancelPoints::new(|ctx| async move {
//!     let (charged, recorded) = (Cell::new(false), Cell::new(false));
//!     checkout(ctx, &charged, &recorded).await;
//!     (charged.get(), recorded.get())
//! })
//! .check(|outcome| {
//!     let (charged, recorded) = outcome.output;
//!     assert_eq!(charged, recorded, "charged and not recorded");
//! });
//! # }
//! ```
//!
//! # Coming from Go
//!
//! | Go | ctx | Notes |
//! |---|---|---|
//! | `context.Background()` | [`Context::background()`](Context::background) | `const`, no allocation. |
//! | `context.TODO()` | [`Context::todo()`](Context::todo) | |
//! | `ctx, cancel := context.WithCancel(parent)` | `let (ctx, cancel) = parent.with_cancel();` | [`cancel.cancel()`](CancelHandle::cancel) cancels; dropping the handle does not, so a context handed to work is never ended behind its back (`let (ctx, _) = ...` lives until its deadline or its parent's end). Nothing leaks without `cancel`: a context's place in its parent and its timer go with its last clone and handle, so vet's lostcancel check has nothing to find. |
//! | `defer cancel()` | [`let _guard = cancel.drop_guard();`](CancelHandle::drop_guard) | A [`CancelGuard`] cancels when its scope ends, however it ends. |
//! | `context.WithCancelCause(parent)` | [`parent.with_cancel_cause()`](Context::with_cancel_cause) | [`CancelCauseHandle::cancel`] takes any error or string. Go's `cancel(nil)` is its [`drop_guard`](CancelCauseHandle::drop_guard), dropped. |
//! | `context.WithDeadline(parent, t)` | [`parent.with_deadline(t)`](Context::with_deadline) | `t` is a tokio [`Instant`], so `tokio::time::pause()` makes deadline code deterministic. A future deadline needs a Tokio runtime (the timer is tokio's); a clear panic says so otherwise. Should that runtime shut down first, the context is cancelled then, with the cause [`RuntimeGone`]. |
//! | `context.WithDeadlineCause(parent, t, cause)` | [`parent.with_deadline_cause(t, cause)`](Context::with_deadline_cause) | |
//! | `context.WithTimeout(parent, d)` | [`parent.with_timeout(d)`](Context::with_timeout) | A timeout too large for an instant (`Duration::MAX`) never expires instead of overflowing. |
//! | `context.WithTimeoutCause(parent, d, cause)` | [`parent.with_timeout_cause(d, cause)`](Context::with_timeout_cause) | |
//! | `context.WithValue(parent, key, val)` | [`parent.with_value(val)`](Context::with_value) | **Keyed by type** (newtype your values): no key collisions, no `interface{}` keys, staticcheck's SA1029 class of bugs cannot be written. |
//! | `ctx.Value(key).(T)` | [`ctx.value::<T>()`](Context::value) → `Option<&T>` | No type assertion. O(log n) at any depth, where Go walks every ancestor. |
//! | `context.WithoutCancel(parent)` | [`parent.without_cancel()`](Context::without_cancel) | |
//! | (proposed: golang/go#36503) | [`a.merge(&b)`](Context::merge) | Done when either is; no goroutine per merge. |
//! | `stop := context.AfterFunc(ctx, f)` | [`ctx.after_func(f)`](Context::after_func) → [`AfterFuncHandle::stop`] | As in Go (a goroutine of its own), `f` never runs on the canceller's stack: it goes to the runtime's blocking pool, or a thread outside one, so `cancel()` never waits for it; a panic in `f` is contained. |
//! | `ctx.Err()` | [`ctx.err()`](Context::err) → `Option<Error>` | Atomic loads, no lock (but once, to record an ancestor's cancellation). Also [`is_done()`](Context::is_done). |
//! | `<-ctx.Done()` | [`ctx.done().await`](Context::done) | Completes with the error. [`done_owned()`](Context::done_owned) is `'static`. Works on any executor. |
//! | `select { case <-ctx.Done(): ...; case r := <-work: ... }` | [`ctx.run(work).await`](Context::run) | The losing future is dropped: no leaked goroutine doing abandoned work. |
//! | `context.Cause(ctx)` | [`ctx.cause()`](Context::cause) → `Option<`[`Cause`]`>` | Downcast the shared error to your own type. |
//! | `ctx.Deadline()` | [`ctx.deadline()`](Context::deadline) → `Option<Instant>` | |
//! | `context.Canceled`, `context.DeadlineExceeded` | [`Error::Canceled`], [`Error::DeadlineExceeded`] | Same messages. [`Error::is_timeout`]; converts into [`std::io::Error`] (`TimedOut` for deadlines). |
//! | `fmt.Sprint(ctx)` | `ctx.to_string()` | Same chain notation: `context.Background.WithCancel.WithValue(TraceId)` (value types by their names, without module paths). |
//! | "ctx is the first parameter" (convention), the contextcheck linter | `#[ctx_fn]` | A rule the compiler checks, and every `.await` checked against cancellation. |
//! | `go publish(context.WithoutCancel(ctx), msg)` | `#[detached]` | Spawned with the caller's values and not its cancellation; tracked so shutdown can wait for it; its failures are logged, never lost. |
//! | `go publish(ctx, msg)` (the bug) | does not compile | A received `Context<'_>` cannot move into `'static` work; [`ctx.spawn`](Context::spawn) is the explicit form for work that ends with the context. |
//!
//! What Go has that is left out on purpose: custom `Context` implementations
//! (one concrete type keeps every check a single atomic load and makes the
//! guarantees hold by construction), and `context.Context` as an interface for
//! mocking (build the context you need with the derivations instead).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use ctx_core::*;
// rustdoc drops the search aliases of the types a crate re-exports from
// another (their methods and variants keep theirs), so Go's names for them
// are given again here.
#[doc(alias = "CancelCauseFunc")]
pub use ctx_core::CancelCauseHandle;
#[doc(alias = "CancelFunc")]
pub use ctx_core::CancelHandle;

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use ctx_macros::{ctx_fn, detached};

/// The runtime of the code `#[ctx_fn]` and `#[detached]` generate, and
/// nothing else. Not public API.
#[doc(hidden)]
pub mod __private;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod http;

#[cfg(any(feature = "postgres", feature = "sqlx"))]
mod context_ended;

#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub mod postgres;

#[cfg(feature = "sqlx")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx")))]
pub mod sqlx;

/// The README's examples, compiled and run as doctests (the server recipe
/// needs the `axum` and `macros` features, the database one `postgres` and
/// `reqwest`).
#[cfg(all(
    doctest,
    feature = "axum",
    feature = "macros",
    feature = "postgres",
    feature = "reqwest"
))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
