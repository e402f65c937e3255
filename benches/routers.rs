//! The hello-world routers whose cost per request `request_path` (in
//! process) and `http_server` (over loopback, under wrk) measure, and the
//! incoming headers of the "with headers" rows. One definition, so the two
//! measurements are of the same servers.

use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use ctx::http::{ContextLayer, ContextService};
use ctx::{ctx_fn, Context, Error};
use tower::Layer;
use tower_http::timeout::TimeoutLayer;

/// The server variants, by the name the benchmarks and the script use.
pub const SERVERS: [&str; 6] = [
    "bare",
    "timeout",
    "context",
    "context_around",
    "yield_plain",
    "yield_ctx_fn",
];

/// A variant's service.
pub enum Server {
    /// A router, every layer added with `Router::layer`, as users write it
    /// (axum then layers each route: clones and boxes per request).
    Router(Router),
    /// `ContextLayer` around the whole router: no layering per route.
    Around(ContextService<Router>),
}

/// What a client sends in the "with headers" rows: a deadline (10 s, far
/// enough never to fire), a request id and a W3C trace context, each of
/// which the `ContextLayer` reads.
pub const INCOMING_HEADERS: [(&str, &str); 3] = [
    ("grpc-timeout", "10S"),
    ("x-request-id", "bench-0123456789"),
    (
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    ),
];

/// The service of the variant named `server` (one of [`SERVERS`]), its
/// request contexts children of `root`; `None` for an unknown name.
///
/// - `bare`: axum alone, a handler answering a static string;
/// - `timeout`: the same behind tower-http's `TimeoutLayer` (30 s), the
///   cheapest layer with a per-request deadline, the baseline;
/// - `context`: behind `ContextLayer`, the handler taking the request's
///   `Context<'_>` and reading `is_done()`;
/// - `context_around`: the same router with `ContextLayer` around it
///   rather than added with `Router::layer`;
/// - `yield_plain` / `yield_ctx_fn`: behind `ContextLayer`, a handler
///   awaiting one `yield_now()`, plain and as a `#[ctx_fn]` (its entry
///   check and checked await being the difference).
pub fn server(server: &str, root: &Context<'static>) -> Option<Server> {
    let layer = ContextLayer::new(root.clone());
    let router = match server {
        "bare" => return Some(Server::Router(Router::new().route("/", get(hello)))),
        "timeout" => {
            return Some(Server::Router(Router::new().route("/", get(hello)).layer(
                TimeoutLayer::with_status_code(
                    StatusCode::SERVICE_UNAVAILABLE,
                    Duration::from_secs(30),
                ),
            )))
        }
        "context_around" => {
            return Some(Server::Around(
                layer.layer(Router::new().route("/", get(hello_ctx))),
            ))
        }
        "context" => Router::new().route("/", get(hello_ctx)),
        "yield_plain" => Router::new().route("/", get(yield_plain)),
        "yield_ctx_fn" => Router::new().route("/", get(yield_ctx_fn)),
        _ => return None,
    };
    Some(Server::Router(router.layer(layer)))
}

async fn hello() -> &'static str {
    "hello"
}

async fn hello_ctx(ctx: Context<'_>) -> &'static str {
    if ctx.is_done() {
        "done"
    } else {
        "hello"
    }
}

async fn yield_plain(_ctx: Context<'_>) -> Result<&'static str, Error> {
    tokio::task::yield_now().await;
    Ok("hello")
}

#[ctx_fn]
async fn yield_ctx_fn(ctx: Context<'_>) -> Result<&'static str, Error> {
    tokio::task::yield_now().await;
    Ok("hello")
}
