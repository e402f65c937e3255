//! The Go blog's context example ("Go Concurrency Patterns: Context"), in
//! Rust: a search handler that takes `?q=` and `?timeout=`, puts the user's
//! IP in the request's context, and calls a slow backend through a
//! `#[ctx_fn]`. It answers with results, or with a timeout; when the
//! deadline passes, the backend call is dropped (its connection closed, the
//! backend's own request context cancelled), not leaked.
//!
//! The backend call goes through hyper-util's client wrapped in
//! `ctx::http::client::DeadlineLayer`: the request's remaining budget,
//! minus a reserve to answer the user, travels as `grpc-timeout`, and the
//! call is dropped when the budget is spent.
//!
//! Everything runs on loopback and the example exits by itself:
//!
//! ```sh
//! cargo run --example search_with_timeout --features client
//! ```

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tower::Layer;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use ctx::http::client::{ClientError, DeadlineLayer, DeadlineService};
use ctx::http::{ContextLayer, RequestEnded};
use ctx::{ctx_fn, Context};
use ctx_examples_support::{send, serve};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use tokio::sync::mpsc;

/// The user's IP, carried by the request's context (Go's `userip` package).
#[derive(Clone, Copy, Debug)]
struct UserIp(IpAddr);

/// How long the backend takes per query.
const BACKEND_LATENCY: Duration = Duration::from_millis(300);

/// Client-side backend calls in flight (a guard lives in each).
static CALLS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

struct InFlight;

impl InFlight {
    fn enter() -> InFlight {
        CALLS_IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        CALLS_IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
enum SearchError {
    Ctx(ctx::Error),
    Backend(String),
}

impl From<ctx::Error> for SearchError {
    fn from(error: ctx::Error) -> SearchError {
        SearchError::Ctx(error)
    }
}

impl From<ClientError<hyper_util::client::legacy::Error>> for SearchError {
    fn from(error: ClientError<hyper_util::client::legacy::Error>) -> SearchError {
        match error.context_error() {
            Some(error) => SearchError::Ctx(error),
            None => SearchError::Backend(error.to_string()),
        }
    }
}

/// hyper-util's client, sending every request under the caller's context.
type BackendClient = DeadlineService<Client<HttpConnector, Full<Bytes>>>;

/// Calls the backend. Every `.await` races `ctx`, and the client layer
/// sends the remaining budget minus its reserve as `grpc-timeout`: when
/// that is spent the call in flight is dropped, which closes its
/// connection, and the reserve is left to answer the user.
#[ctx_fn]
async fn search(
    ctx: Context<'_>,
    mut client: BackendClient,
    backend: SocketAddr,
    query: String,
) -> Result<Vec<String>, SearchError> {
    let _in_flight = InFlight::enter();
    let user = ctx
        .value::<UserIp>()
        .map_or("unknown".into(), |ip| ip.0.to_string());
    let query = serde_urlencoded::to_string([("q", &query)]).expect("a string pair encodes");
    let request = http::Request::get(format!("http://{backend}/search?{query}"))
        .header("x-user-ip", user)
        .body(Full::default())
        .unwrap();
    // hyper-util's client is always ready, so no `ready().await` first.
    let response = client.call_with(&ctx, request).await?;
    if response.status() != StatusCode::OK {
        return Err(SearchError::Backend(format!(
            "status {}",
            response.status()
        )));
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| SearchError::Backend(e.to_string()))?
        .to_bytes();
    Ok(String::from_utf8_lossy(&body)
        .lines()
        .map(str::to_owned)
        .collect())
}

#[derive(Clone)]
struct Frontend {
    client: BackendClient,
    backend: SocketAddr,
}

/// The query string of `/search`.
#[derive(Deserialize)]
struct SearchParams {
    #[serde(default)]
    q: String,
    /// A Go-style duration: `250ms`, `1s`, `1.5s`.
    timeout: Option<String>,
}

/// `GET /search?q=...&timeout=...`.
async fn handle_search(
    State(app): State<Frontend>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ctx: Context<'_>,
    Query(params): Query<SearchParams>,
) -> (StatusCode, String) {
    let query = params.q;
    if query.is_empty() {
        return (StatusCode::BAD_REQUEST, "no query\n".into());
    }
    // The request's context, with a timeout if the user asked for one.
    let (ctx, _cancel) = match params.timeout {
        Some(text) => match parse_duration(&text) {
            Some(timeout) => ctx.with_timeout(timeout),
            None => return (StatusCode::BAD_REQUEST, format!("bad timeout {text:?}\n")),
        },
        None => ctx.with_cancel(),
    };
    let ctx = ctx.with_value(UserIp(peer.ip()));

    let start = ctx::Instant::now();
    match search(ctx, app.client, app.backend, query.clone()).await {
        Ok(results) => (
            StatusCode::OK,
            format!(
                "{} results for {query:?} in {:?}: {}\n",
                results.len(),
                start.elapsed(),
                results.join(", ")
            ),
        ),
        Err(SearchError::Ctx(error)) if error.is_timeout() => (
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "search for {query:?} timed out after {:?}\n",
                start.elapsed()
            ),
        ),
        Err(SearchError::Ctx(error)) => (StatusCode::SERVICE_UNAVAILABLE, format!("{error}\n")),
        Err(SearchError::Backend(error)) => {
            (StatusCode::BAD_GATEWAY, format!("backend: {error}\n"))
        }
    }
}

/// The slow backend: answers after [`BACKEND_LATENCY`], unless its own
/// request context ends first; reports how each request ended, including
/// when the server drops it because the caller hung up.
async fn backend_search(
    State(log): State<mpsc::UnboundedSender<String>>,
    ctx: Context<'_>,
    Query(params): Query<SearchParams>,
) -> String {
    let query = params.q;
    let mut report = BackendReport {
        log,
        ctx: ctx.clone(),
        query: query.clone(),
        start: ctx::Instant::now(),
        outcome: None,
    };
    report.outcome = Some(ctx.run(tokio::time::sleep(BACKEND_LATENCY)).await);
    format!("{query} result 1\n{query} result 2\n{query} result 3")
}

/// Logs, when dropped, how a backend request ended.
struct BackendReport<'a> {
    log: mpsc::UnboundedSender<String>,
    ctx: Context<'a>,
    query: String,
    start: ctx::Instant,
    outcome: Option<Result<(), ctx::Error>>,
}

impl Drop for BackendReport<'_> {
    fn drop(&mut self) {
        let (query, elapsed) = (&self.query, self.start.elapsed());
        let line = match self.outcome {
            Some(Ok(())) => format!("backend: {query} answered after {elapsed:?}"),
            Some(Err(error)) => format!("backend: {query} gave up after {elapsed:?}: {error}"),
            None => {
                let why = match self.ctx.cause() {
                    Some(cause)
                        if cause.downcast_ref::<RequestEnded>()
                            == Some(&RequestEnded::Abandoned) =>
                    {
                        "the caller hung up, its request context was cancelled".to_owned()
                    }
                    Some(cause) => format!("its request context ended: {cause}"),
                    None => "dropped".to_owned(),
                };
                format!("backend: {query} dropped after {elapsed:?}: {why} (no work leaked)")
            }
        };
        let _ = self.log.send(line);
    }
}

/// Go-style durations the demo needs: `250ms`, `1s`, `1.5s`; at most a
/// minute, however written.
fn parse_duration(text: &str) -> Option<Duration> {
    let timeout = match text.strip_suffix("ms") {
        Some(ms) => Duration::from_millis(ms.parse().ok()?),
        None => Duration::try_from_secs_f64(text.strip_suffix('s')?.parse().ok()?).ok()?,
    };
    (timeout <= Duration::from_secs(60)).then_some(timeout)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (root, shutdown) = Context::background().with_cancel();

    let (log_tx, mut log_rx) = mpsc::unbounded_channel();
    let backend = Router::new()
        .route("/search", get(backend_search))
        .layer(ContextLayer::new(root.clone()))
        .with_state(log_tx);
    let backend = serve(backend, root.clone()).await?;

    let frontend = Router::new()
        .route("/search", get(handle_search))
        .layer(ContextLayer::new(root.clone()))
        .with_state(Frontend {
            client: DeadlineLayer::new().layer(Client::builder(TokioExecutor::new()).build_http()),
            backend: backend.addr,
        });
    let frontend = serve(frontend, root.clone()).await?;
    println!(
        "frontend on http://{}, backend on http://{} (answers in {BACKEND_LATENCY:?})\n",
        frontend.addr, backend.addr
    );

    for path in [
        "/search?q=golang&timeout=1s",
        "/search?q=rust+context&timeout=100ms",
        "/search?q=tokio",
    ] {
        println!("GET {path}");
        let request = http::Request::get(path).body(String::new()).unwrap();
        let response = send(frontend.addr, request).await?;
        print!("  {} {}", response.status().as_u16(), response.body());
        let log = tokio::time::timeout(Duration::from_secs(5), log_rx.recv())
            .await
            .ok()
            .flatten();
        println!("  {}", log.unwrap_or_else(|| "backend: (no report)".into()));
        println!(
            "  client-side backend calls still in flight: {}\n",
            CALLS_IN_FLIGHT.load(Ordering::SeqCst)
        );
    }

    shutdown.cancel();
    let _ = frontend.task.await;
    let _ = backend.task.await;
    Ok(())
}
