//! What the examples and the HTTP integration tests of `goctx` share: a
//! server starter and an HTTP client for loopback (a client that can also
//! walk away mid-request, which is the point of the demos), and the two
//! runs that examples and integration tests share: the story of the
//! `publish_after_response` demo, and the shutdown under load of
//! `graceful_shutdown --load`.
//!
//! ```no_run
//! use axum::{routing::get, Router};
//! use ctx::http::ContextLayer;
//! use ctx::Context;
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! let (root, shutdown) = Context::background().with_cancel();
//! let app = Router::new()
//!     .route("/", get(|| async { "hello" }))
//!     .layer(ContextLayer::new(root.clone()));
//! let server = ctx_examples_support::serve(app, root).await?;
//!
//! let request = http::Request::get("/").body(String::new()).unwrap();
//! let response = ctx_examples_support::send(server.addr, request).await?;
//! assert_eq!(response.body(), "hello");
//!
//! shutdown.cancel(); // the server stops accepting, finishes, and exits
//! server.task.await??;
//! # Ok(())
//! # }
//! ```

mod broker;
mod client;
mod load;
pub mod publish;
#[cfg(feature = "redis")]
mod redis_stream;
mod server;
pub mod shutdown_load;

pub use client::{send, send_or_leave};
pub use server::{serve, Server};
