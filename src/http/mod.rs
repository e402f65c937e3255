//! HTTP integration: every request gets a [`Context`](crate::Context).
//!
//! Enabled by the `axum` feature. Go's `net/http` gives each request a
//! context that is cancelled when the client goes away or when the handler
//! has returned; this module does the same for the tower/axum stack:
//!
//! - [`ContextLayer`](crate::http::ContextLayer): a tower layer that derives each request's context
//!   from a server-wide root (cancel the root at shutdown), cancels it when
//!   the handler has produced its response or the request is abandoned
//!   (client gone), applies an incoming [`GRPC_TIMEOUT`](crate::http::GRPC_TIMEOUT) header as a
//!   deadline, and carries a [`TraceId`](crate::http::TraceId) and a [`RequestId`](crate::http::RequestId).
//! - The axum extractor: a handler takes `ctx: Context` among its arguments
//!   (failing with [`MissingContext`] when the layer is missing).
//! - [`inject`](crate::http::inject): the client side, writing a context's remaining budget and
//!   trace id into an outgoing request's headers, so a deadline set at the
//!   edge reaches every service behind it.
//!
//! With the `tracing` feature, the layer opens a `request` span per request
//! (with its trace id), polls the handler inside it, and stores it in the
//! context as a `RequestSpan`, so work detached from the request can
//! re-enter it.
//!
//! # Example
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use ctx::http::{ContextLayer, TraceId};
//! use ctx::Context;
//!
//! async fn hello(ctx: Context<'_>) -> String {
//!     let trace = ctx.value::<TraceId>().expect("the layer sets one");
//!     format!("hello from trace {trace}")
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! // The server-wide root: cancelling it cancels every request in flight.
//! let (root, shutdown) = Context::background().with_cancel();
//! let app = Router::new()
//!     .route("/", get(hello))
//!     .layer(ContextLayer::new(root.clone()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! tokio::spawn(async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     shutdown.cancel();
//! });
//! axum::serve(listener, app)
//!     .with_graceful_shutdown(async move {
//!         root.done().await;
//!     })
//!     .await
//! # }
//! ```

mod body;
mod client;
mod grpc_timeout;
mod ids;
mod layer;

pub use body::ResponseBody;
pub use client::inject;
#[doc(inline)]
pub use ctx_core::MissingContext;
pub use grpc_timeout::{format_grpc_timeout, parse_grpc_timeout, GrpcTimeoutError, GRPC_TIMEOUT};
pub use ids::{RequestId, TraceId, REQUEST_ID, TRACEPARENT};
pub use layer::{ContextLayer, ContextService, RequestEnded, ResponseFuture};

#[cfg(feature = "tracing")]
pub use layer::RequestSpan;
