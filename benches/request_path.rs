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
//!   which the layer reads (a deadline, the given ids); `context_around`:
//!   the same router with the layer around it, not added per route;
//! - `yield_plain` / `yield_ctx_fn`: behind `ContextLayer`, a handler with
//!   one `yield_now().await`, plain and as a `#[ctx_fn]`.
//!
//! `cargo bench -p ctx-benches --bench request_path`

#![allow(missing_docs)]

use std::fmt::Debug;
use std::pin::pin;

use axum::body::{Body, Bytes, HttpBody};
use ctx::Context;
use divan::{black_box, AllocProfiler, Bencher};
use http::{Request, Response};
use http_body_util::BodyExt;
use routers::Server;
use tokio::runtime::Runtime;
use tower::{Service, ServiceExt};

mod routers;

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

fn main() {
    divan::main();
}

/// Each row: a server of `routers::SERVERS`, with `+headers` for a request
/// carrying `routers::INCOMING_HEADERS`.
const ROWS: [&str; 8] = [
    "bare",
    "bare+headers",
    "timeout",
    "context",
    "context+headers",
    "context_around",
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
    match routers::server(server, &root).expect("every server has a service") {
        Server::Router(router) => measure(bencher, &runtime, router, with_headers),
        Server::Around(service) => measure(bencher, &runtime, service, with_headers),
    }
    shutdown.cancel();
}

/// One `GET /` per iteration through a clone of `service`.
fn measure<S, B>(bencher: Bencher, runtime: &Runtime, service: S, with_headers: bool)
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: Debug,
    B: HttpBody<Data = Bytes>,
    B::Error: Debug,
{
    bencher
        .with_inputs(|| (service.clone(), get_root(with_headers)))
        .bench_local_values(|(service, request)| runtime.block_on(serve_one(service, request)));
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
async fn serve_one<S, B>(service: S, request: Request<Body>) -> usize
where
    S: Service<Request<Body>, Response = Response<B>>,
    S::Error: Debug,
    B: HttpBody<Data = Bytes>,
    B::Error: Debug,
{
    let response = service.oneshot(request).await.expect("axum is infallible");
    assert!(response.status().is_success(), "{}", response.status());
    let mut body = pin!(response.into_body());
    let mut length = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.expect("a hello-world body").into_data() {
            length += data.len();
        }
    }
    black_box(length)
}
