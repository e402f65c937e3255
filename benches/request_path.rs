//! One request through an axum `Router`, in process: the cost per request
//! of the `ContextLayer` and of `#[ctx_fn]` where every nanosecond shows.
//!
//! Each iteration sends one `GET /` through a clone of the router with
//! `tower::ServiceExt::oneshot` and reads the response body to its end
//! (the `ContextLayer` ends the request's context with the body's last
//! frame), on a current-thread tokio runtime (`block_on`). The request and
//! the router's clone are made outside the measured time. divan's
//! `AllocProfiler` counts the allocations (and bytes) per request.
//!
//! Rows (the routers are in `routers.rs`):
//! - `bare`: axum alone; `bare+headers`: the same request with the
//!   incoming headers (`grpc-timeout`, `x-request-id`, `traceparent`),
//!   which axum ignores;
//! - `timeout`: behind tower-http's `TimeoutLayer`;
//! - `context`: behind `ContextLayer`, the handler reading the context's
//!   `is_done()`; `context+headers`: the same with the incoming headers,
//!   which the layer reads (a deadline, the given ids);
//! - `yield_plain` / `yield_ctx_fn`: behind `ContextLayer`, a handler with
//!   one `yield_now().await`, plain and as a `#[ctx_fn]`.
//!
//! `cargo bench -p ctx-benches --bench request_path`

#![allow(missing_docs)]

use axum::body::Body;
use axum::Router;
use ctx::Context;
use divan::{black_box, AllocProfiler, Bencher};
use http::Request;
use http_body_util::BodyExt;
use tower::ServiceExt;

mod routers;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

/// Each row: a server of `routers::SERVERS`, with `+headers` for a request
/// carrying `routers::INCOMING_HEADERS`.
const ROWS: [&str; 7] = [
    "bare",
    "bare+headers",
    "timeout",
    "context",
    "context+headers",
    "yield_plain",
    "yield_ctx_fn",
];

#[divan::bench(args = ROWS)]
fn request(bencher: Bencher, row: &str) {
    let (server, with_headers) = match row.strip_suffix("+headers") {
        Some(server) => (server, true),
        None => (row, false),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (root, shutdown) = Context::background().with_cancel();
    assert!(
        routers::SERVERS.contains(&server),
        "{server}: not in routers::SERVERS"
    );
    let router = routers::router(server, &root).expect("every server has a router");
    bencher
        .with_inputs(|| (router.clone(), get_root(with_headers)))
        .bench_local_values(|(router, request)| runtime.block_on(serve_one(router, request)));
    shutdown.cancel();
}

/// `GET /`, with the incoming headers or without.
fn get_root(with_headers: bool) -> Request<Body> {
    let mut request = Request::get("/");
    if with_headers {
        for (name, value) in routers::INCOMING_HEADERS {
            request = request.header(name, value);
        }
    }
    request.body(Body::empty()).expect("a valid request")
}

/// The request answered and its body read to the end; the body's length.
async fn serve_one(router: Router, request: Request<Body>) -> usize {
    let response = router.oneshot(request).await.expect("axum is infallible");
    assert!(response.status().is_success(), "{}", response.status());
    let mut body = response.into_body();
    let mut length = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("a hello-world body").into_data() {
            length += data.len();
        }
    }
    black_box(length)
}
