//! HTTP integration: every request gets a [`Context`](crate::Context).
//!
//! Enabled by the `axum` feature. Go's `net/http` gives each request a
//! context that is cancelled when the client goes away or when the handler
//! has returned; this module does the same for the tower/axum stack:
//!
//! - [`ContextLayer`]: a tower layer that derives each request's context
//!   from a server-wide root (cancel the root at shutdown), ends it when
//!   the response, body included, has been sent or the request is
//!   abandoned (client gone), applies the budget of an incoming deadline
//!   header (each [`DeadlineHeader`]: gRPC's `grpc-timeout`, Connect's,
//!   Envoy's), or a default timeout, as a
//!   deadline, carries a [`TraceId`] and a [`RequestId`], and echoes the
//!   request id on the response. It works around an axum `Router` and a
//!   tonic server alike.
//! - [`Shutdown`]: the server's root context and its graceful shutdown,
//!   Go's `Server.Shutdown`: stop accepting, let requests in flight finish
//!   within a grace period, cancel the rest, drain the detached work,
//!   report what was cut off.
//! - The axum extractor: a handler takes `ctx: Context<'_>` among its
//!   arguments (failing with [`MissingContext`] when the layer is missing),
//!   and may return `Result<T, `[`ctx::Error`](crate::Error)`>` (a deadline is a `504`, a
//!   cancellation a `503`). Middleware, tower services and tonic handlers
//!   borrow it from the request with [`RequestContextExt`].
//! - [`Context::stream`](crate::Context::stream): a response body or
//!   server-sent events that use the request's context while they stream,
//!   and stop when it ends.
//!
//! # A request's context ends with its response
//!
//! It is lent, never handed out as `Context<'static>`: moving it into work
//! that outlives the request does not compile, and
//! [`without_cancel`](crate::Context::without_cancel) or `#[detached]` is the
//! way out. axum extracts only `'static` types, so a handler that writes its
//! parameter as `Context<'static>` by hand gets one; if work then waits on
//! it after the response was sent (the lost publish of Go services), the
//! wait ends with [`RequestEnded::Responded`] and is reported once per
//! place in the source, as a tracing ERROR event (feature `tracing`, with a
//! subscriber) or else one line on stderr:
//!
//! ```text
//! ctx: work at src/orders.rs:42:18 waited on a request's context after the request was already
//! answered (its response was sent), so it was cancelled: work that must outlive the response takes
//! `ctx.without_cancel()` (or is a `#[detached]` fn); a request's context is `Context<'_>`, never
//! `Context<'static>`
//! ```
//!
//! A request abandoned by its client, a deadline and a shutdown are normal
//! ends and never reported.
//! - [`inject`]: the client side, writing a context's remaining budget and
//!   trace id into an outgoing request's headers, so a deadline set at the
//!   edge reaches every service behind it. With the `client` feature,
//!   [`client::DeadlineLayer`] does it for every request of an HTTP or gRPC
//!   client, keeping a reserve per hop, and races each call against the
//!   caller's context.
//!
//! With the `tracing` feature, the layer opens a `request` span per request
//! (with its trace id), polls the handler and the response body inside it,
//! and stores it in the context as a [`RequestSpan`], so work detached from
//! the request can re-enter it.
//!
//! # Example
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use ctx::http::{Shutdown, TraceId};
//! use ctx::Context;
//!
//! async fn hello(ctx: Context<'_>) -> String {
//!     let trace = ctx.value::<TraceId>().expect("the layer sets one");
//!     format!("hello from trace {trace}")
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! // The server's root context, and its graceful shutdown.
//! let shutdown = Shutdown::new();
//! let app = Router::new().route("/", get(hello)).layer(shutdown.layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! // Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
//! let report = shutdown.serve(axum::serve(listener, app)).await?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```
//!
//! # tonic handlers
//!
//! tonic fixes a service method's signature (`async fn say_hello(&self,
//! request: Request<T>) -> Result<Response<U>, Status>`), so `#[ctx_fn]`
//! cannot add a context parameter to it; nor can it go on the method, which
//! `#[tonic::async_trait]` on the `impl` has already made a boxed future
//! (`#[ctx_fn]` refuses it, saying so). Put `#[ctx_fn]` on a plain method
//! of the service, in an `impl` block of its own, and let the trait method
//! lend it the request's context: split the request, borrow the context
//! from its extensions ([`RequestContextExt::context`]; `?` turns a
//! missing [`ContextLayer`] into `INTERNAL`), and call the method with it
//! (`?` turns the context's error into `DEADLINE_EXCEEDED` or
//! `CANCELLED`). The method's awaits then stop at the deadline the caller
//! sent in `grpc-timeout`. The context is lent for as long as the
//! extensions live: moving it into a spawned task does not compile. The
//! whole server, with a client, is `examples/tonic_handlers`.
//!
//! ```
//! # #[cfg(all(feature = "tonic", feature = "macros"))]
//! # mod greeter {
//! use ctx::http::{MissingContext, RequestContextExt};
//! use ctx::{ctx_fn, Context};
//! use tonic::{Request, Response, Status};
//! # use std::time::Duration;
//! # // What tonic-build generates from the `.proto` file.
//! # #[tonic::async_trait]
//! # pub trait Greeter: Send + Sync + 'static {
//! #     async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status>;
//! # }
//!
//! pub struct Greetings;
//!
//! #[tonic::async_trait]
//! impl Greeter for Greetings {
//!     async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status> {
//!         let (_metadata, extensions, name) = request.into_parts();
//!         let ctx = extensions.context().ok_or(MissingContext)?;
//!         Ok(Response::new(self.greet(ctx, name).await?))
//!     }
//! }
//!
//! impl Greetings {
//!     #[ctx_fn]
//!     async fn greet(&self, ctx: Context, name: String) -> Result<String, Status> {
//!         tokio::time::sleep(Duration::from_millis(20)).await; // a lookup
//!         Ok(format!("hello, {name}"))
//!     }
//! }
//! # #[tokio::main(flavor = "current_thread")]
//! # pub async fn main() {
//! // Served without a `ContextLayer`, the method says what is missing.
//! let status = Greetings.say_hello(Request::new("ada".to_owned())).await.unwrap_err();
//! assert_eq!(status.code(), tonic::Code::Internal);
//! # }
//! # }
//! # #[cfg(all(feature = "tonic", feature = "macros"))]
//! # greeter::main();
//! ```
//!
//! # Adding values in middleware
//!
//! A middleware inside the layer can give the request's context more
//! values, an authenticated user for example: it replaces the context with
//! a child carrying the value
//! ([`RequestContextExt::map_context`]). The child is still the request's
//! context (it ends with the response), and handlers and everything they
//! call find the value with [`Context::value`](crate::Context::value).
//!
//! ```
//! use axum::extract::Request;
//! use axum::middleware::{self, Next};
//! use axum::response::{IntoResponse, Response};
//! use axum::{body::Body, routing::get, Router};
//! use ctx::http::{ContextLayer, RequestContextExt};
//! use ctx::Context;
//! use http::StatusCode;
//! use tower::ServiceExt;
//!
//! /// The authenticated user, a value of the request's context.
//! struct User(String);
//!
//! async fn authenticate(mut request: Request, next: Next) -> Response {
//!     let user = match request.headers().get("x-user").map(|v| v.to_str()) {
//!         Some(Ok(user)) => User(user.to_owned()),
//!         _ => return StatusCode::UNAUTHORIZED.into_response(),
//!     };
//!     if let Err(missing) = request.map_context(|ctx| ctx.with_value(user)) {
//!         return missing.into_response();
//!     }
//!     next.run(request).await
//! }
//!
//! async fn whoami(ctx: Context<'_>) -> String {
//!     ctx.value::<User>().map(|user| user.0.clone()).unwrap_or_default()
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Router::new()
//!     .route("/", get(whoami))
//!     .layer(middleware::from_fn(authenticate)) // inside the layer: runs after it
//!     .layer(ContextLayer::new(Context::background()));
//! let request = http::Request::get("/").header("x-user", "ada").body(Body::empty()).unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! let body = axum::body::to_bytes(response.into_body(), 64).await.unwrap();
//! assert_eq!(body, "ada");
//! # }
//! ```

#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
mod deadline_header;
mod grpc_timeout;
mod ids;
mod incoming;
mod inject;
mod layer;
mod outgoing;
mod request_context;
mod shutdown;
mod signal;
mod timeout_ms;

#[doc(inline)]
pub use ctx_core::MissingContext;
#[doc(inline)]
pub use ctx_core::RequestEnded;
pub use deadline_header::{
    DeadlineHeader, DeadlineHeaderError, CONNECT_TIMEOUT_MS, ENVOY_EXPECTED_RQ_TIMEOUT_MS,
};
pub use grpc_timeout::{format_grpc_timeout, parse_grpc_timeout, GrpcTimeoutError, GRPC_TIMEOUT};
pub use ids::{RequestId, TraceId, REQUEST_ID, TRACEPARENT};
pub use inject::inject;
pub use layer::{ContextLayer, ContextService, ResponseBody, ResponseFuture};
pub use request_context::RequestContextExt;
pub use shutdown::{Server, ServerShutdown, Shutdown, ShutdownReport};
pub use timeout_ms::{format_timeout_ms, parse_timeout_ms, TimeoutMsError};

#[cfg(feature = "tracing")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
pub use layer::RequestSpan;
