//! One deadline budget across three hops, over real loopback sockets, with
//! real clients and servers: a client with a 300 ms budget calls a first
//! service, which calls a second one whose work takes far longer. The
//! budget reaches the first hop, is passed to the second minus the first
//! hop's reserve, the second hop's work is cut at that deadline, and the
//! client sees a deadline error naming the hop — over HTTP (axum servers,
//! hyper-util clients) and over gRPC (tonic servers and channels).
//!
//! The clock is tokio's paused one, so the budgets are exact: no virtual
//! time passes while a request crosses a hop. That holds over real sockets
//! because a paused clock only jumps to the next timer when every task
//! waits and the I/O driver has no event ready, and on loopback a write is
//! readable by the peer by the time the writer's syscall returns: the
//! runtime never idles with a request in flight. (Were that to fail, a
//! jump would show as a budget off by a whole timer, or a missing report,
//! not as a few microseconds of drift.) The test prints what each hop saw.

#[path = "../examples/tonic_handlers/text_codec.rs"]
mod text_codec;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use ctx::http::client::{
    with_context, CallErrorReason, ClientError, DeadlineLayer, DeadlineService,
};
use ctx::http::{ContextLayer, MissingContext, RequestContextExt, TraceId};
use ctx::{Context, Error, Instant};
use ctx_examples_support::serve;
use http::{StatusCode, Uri};
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::Status;
use tower::{Layer, Service, ServiceExt};

use text_codec::TextCodec;

/// The client's budget.
const BUDGET: Duration = Duration::from_millis(300);
/// What the first hop keeps for itself when it calls the second.
const RESERVE: Duration = Duration::from_millis(50);
/// How long the second hop's work would take if nothing cut it.
const SLOW: Duration = Duration::from_secs(10);
/// Bounds a step that must happen; only a broken test waits this long.
const BOUND: Duration = Duration::from_secs(10);
/// The client's trace, which every hop must see.
const TRACE: TraceId = TraceId(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// What the hops report to the test.
#[derive(Debug)]
enum Report {
    /// A hop's handler started with this budget and trace.
    Seen {
        hop: u8,
        budget: Duration,
        trace: Option<TraceId>,
    },
    /// The first hop's call to the second failed so.
    CallFailed(String),
    /// The second hop's work ended after `after`.
    Ended { after: Duration, how: Ended },
}

#[derive(Debug, PartialEq)]
enum Ended {
    /// The work finished: the deadline did not cut it.
    Completed,
    /// Its context ended first and `ctx.run` returned this.
    Cut(Error),
    /// The server dropped the handler mid-way: the caller hung up. (The
    /// layer cancels the request's context with `RequestEnded::Abandoned`
    /// just after, once the handler is gone.)
    Dropped,
}

#[derive(Clone)]
struct Reports(mpsc::UnboundedSender<Report>);

impl Reports {
    fn seen(&self, hop: u8, ctx: &Context<'_>) {
        let deadline = ctx.deadline().expect("every hop has a deadline");
        let _ = self.0.send(Report::Seen {
            hop,
            budget: deadline.saturating_duration_since(Instant::now()),
            trace: ctx.value::<TraceId>().copied(),
        });
    }
}

/// The second hop's work: reports how it ended, including when the server
/// drops it mid-way.
async fn slow_work(reports: Reports, ctx: Context<'_>) -> Result<(), Error> {
    struct Watch {
        reports: Reports,
        start: Instant,
        outcome: Option<Result<(), Error>>,
    }
    impl Drop for Watch {
        fn drop(&mut self) {
            let how = match self.outcome {
                Some(Ok(())) => Ended::Completed,
                Some(Err(error)) => Ended::Cut(error),
                None => Ended::Dropped,
            };
            let after = self.start.elapsed();
            let _ = self.reports.0.send(Report::Ended { after, how });
        }
    }
    reports.seen(2, &ctx);
    let mut watch = Watch {
        reports,
        start: Instant::now(),
        outcome: None,
    };
    let outcome = ctx.run(tokio::time::sleep(SLOW)).await;
    watch.outcome = Some(outcome);
    outcome
}

/// The budgets and outcomes the hops reported, checked the same way for
/// both protocols.
async fn check_reports(mut reports: mpsc::UnboundedReceiver<Report>, hop2: &str) {
    let mut budgets = [None, None];
    let mut call_failed = None;
    let mut ended = None;
    while budgets.contains(&None) || call_failed.is_none() || ended.is_none() {
        match within("the hops' reports", reports.recv()).await.unwrap() {
            Report::Seen { hop, budget, trace } => {
                assert_eq!(trace, Some(TRACE), "hop {hop} continues the client's trace");
                budgets[usize::from(hop - 1)] = Some(budget);
            }
            Report::CallFailed(error) => call_failed = Some(error),
            Report::Ended { after, how } => ended = Some((after, how)),
        }
    }
    let [Some(hop1), Some(hop2_budget)] = budgets else {
        unreachable!()
    };
    let (after, how) = ended.unwrap();
    eprintln!(
        "budget at hop 1: {hop1:?}, at hop 2: {hop2_budget:?}; hop 2's work ended after {after:?}: {how:?}"
    );

    assert_eq!(hop1, BUDGET, "the client's whole budget reaches hop 1");
    assert_eq!(
        hop2_budget,
        BUDGET - RESERVE,
        "hop 2 gets hop 1's minus its reserve"
    );

    // Cut at its deadline: by its own context, or by hop 1 hanging up as
    // the budget it gave runs out, at the same instant (which one the
    // scheduler runs first is not part of the contract).
    assert!(
        matches!(how, Ended::Cut(Error::DeadlineExceeded) | Ended::Dropped),
        "hop 2's work ended {how:?}"
    );
    assert_eq!(after, hop2_budget, "hop 2's work is cut at its deadline");

    let call_failed = call_failed.unwrap();
    assert!(
        call_failed.starts_with(&format!(
            "context deadline exceeded calling {hop2}: no answer within the "
        )),
        "hop 1's call failed: {call_failed}"
    );
}

// ---------------------------------------------------------------- HTTP --

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn http_client(reserve: Duration) -> DeadlineService<HttpClient> {
    let client = Client::builder(TokioExecutor::new()).build_http();
    DeadlineLayer::new().reserve(reserve).layer(client)
}

#[derive(Clone)]
struct Hop1 {
    reports: Reports,
    next: SocketAddr,
    client: DeadlineService<HttpClient>,
}

/// `GET /search` on hop 1: calls hop 2 with the request's context.
async fn http_hop1(State(hop): State<Hop1>, ctx: Context<'static>) -> (StatusCode, String) {
    hop.reports.seen(1, &ctx);
    let mut request = http::Request::get(format!("http://{}/slow", hop.next))
        .body(Full::default())
        .unwrap();
    request.extensions_mut().insert(ctx.clone());
    match hop.client.oneshot(request).await {
        Ok(response) => (
            StatusCode::BAD_GATEWAY,
            format!("hop 2 answered {}", response.status()),
        ),
        Err(error) => {
            let _ = hop.reports.0.send(Report::CallFailed(error.to_string()));
            let status = error
                .context_error()
                .map_or(StatusCode::BAD_GATEWAY, |error| error.http_status());
            (status, error.to_string())
        }
    }
}

/// `GET /slow` on hop 2: a deadline answers 504 (`ctx::Error`'s response).
async fn http_hop2(
    State(reports): State<Reports>,
    ctx: Context<'_>,
) -> Result<&'static str, Error> {
    slow_work(reports, ctx).await?;
    Ok("done")
}

#[tokio::test(start_paused = true)]
async fn http_budget_crosses_three_hops() {
    let (root, _shutdown) = Context::background().with_cancel();
    let (tx, rx) = mpsc::unbounded_channel();
    let reports = Reports(tx);

    let hop2 = Router::new()
        .route("/slow", get(http_hop2))
        .layer(ContextLayer::new(root.clone()))
        .with_state(reports.clone());
    let hop2 = serve(hop2, root.clone()).await.unwrap().addr;
    let hop1 = Router::new()
        .route("/search", get(http_hop1))
        .layer(ContextLayer::new(root.clone()))
        .with_state(Hop1 {
            reports,
            next: hop2,
            client: http_client(RESERVE),
        });
    let hop1 = serve(hop1, root.clone()).await.unwrap().addr;

    // The client keeps no reserve: it has nothing to do after the call.
    let client = http_client(Duration::ZERO);
    let (ctx, _cancel) = Context::background().with_value(TRACE).with_timeout(BUDGET);
    let mut request = http::Request::get(format!("http://{hop1}/search"))
        .body(Full::default())
        .unwrap();
    request.extensions_mut().insert(ctx.clone());
    let started = Instant::now();
    let error = within("the client's call", client.oneshot(request))
        .await
        .unwrap_err();
    eprintln!("the client saw, after {:?}: {error}", started.elapsed());
    assert_eq!(
        started.elapsed(),
        BUDGET - RESERVE,
        "the answer comes a reserve early"
    );

    // Hop 1 answered 504 within the client's budget, thanks to its reserve,
    // and the client layer mapped it back to a deadline naming hop 1.
    let ClientError::Context(error) = error else {
        panic!("expected a context error, got {error}")
    };
    assert_eq!(error.error(), Error::DeadlineExceeded);
    assert_eq!(error.uri().to_string(), format!("http://{hop1}/search"));
    assert!(
        matches!(error.reason(), CallErrorReason::Upstream { status, grpc_message: None } if *status == StatusCode::GATEWAY_TIMEOUT),
        "{error}"
    );
    check_reports(rx, &format!("GET http://{hop2}/slow")).await;
}

// ---------------------------------------------------------------- gRPC --

const METHOD: &str = "/hops.Hop/Call";

type GrpcClient = tonic::client::Grpc<DeadlineService<Channel>>;

fn grpc_client(addr: SocketAddr, reserve: Duration) -> GrpcClient {
    let origin: Uri = format!("http://{addr}").parse().unwrap();
    let channel = Endpoint::from(origin.clone()).connect_lazy();
    tonic::client::Grpc::with_origin(DeadlineLayer::new().reserve(reserve).layer(channel), origin)
}

/// Calls `hops.Hop/Call` under `ctx`, as a tonic client does: the request
/// is built by the client, so the context is lent to the call.
async fn call(client: &mut GrpcClient, ctx: &Context<'_>) -> Result<String, Status> {
    client
        .ready()
        .await
        .map_err(|error| Status::unavailable(error.to_string()))?;
    let request = tonic::Request::new("query".to_owned());
    let path = http::uri::PathAndQuery::from_static(METHOD);
    let response = with_context(ctx, client.unary(request, path, TextCodec)).await?;
    Ok(response.into_inner())
}

/// The gRPC service `hops.Hop`, hand-written where tonic-build would
/// generate it: hop 1 forwards to `next`, hop 2 (no `next`) does slow work.
#[derive(Clone)]
struct HopService {
    reports: Reports,
    next: Option<GrpcClient>,
}

impl tonic::server::NamedService for HopService {
    const NAME: &'static str = "hops.Hop";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<http::Request<tonic::body::Body>> for HopService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let handler = Handler(self.clone());
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(TextCodec);
            Ok(grpc.unary(handler, request).await)
        })
    }
}

/// The unary method of [`HopService`].
struct Handler(HopService);

impl tonic::server::UnaryService<String> for Handler {
    type Response = String;
    type Future = BoxFuture<Result<tonic::Response<String>, Status>>;

    fn call(&mut self, request: tonic::Request<String>) -> Self::Future {
        let HopService { reports, next } = self.0.clone();
        Box::pin(async move {
            let ctx = request.context().ok_or(MissingContext)?;
            match next {
                Some(mut next) => {
                    reports.seen(1, &ctx);
                    let answer = call(&mut next, &ctx).await.inspect_err(|status| {
                        let _ = reports
                            .0
                            .send(Report::CallFailed(status.message().to_owned()));
                    })?;
                    Ok(tonic::Response::new(answer))
                }
                None => {
                    // `?` turns the context's error into its status.
                    slow_work(reports, ctx).await?;
                    Ok(tonic::Response::new("done".to_owned()))
                }
            }
        })
    }
}

async fn serve_grpc(service: HopService, root: Context<'static>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Server::builder()
        .layer(ContextLayer::new(root.clone()))
        .add_service(service)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), async move {
            root.done().await;
        });
    tokio::spawn(server);
    addr
}

#[tokio::test(start_paused = true)]
async fn grpc_budget_crosses_three_hops() {
    let (root, _shutdown) = Context::background().with_cancel();
    let (tx, rx) = mpsc::unbounded_channel();
    let reports = Reports(tx);

    let hop2 = HopService {
        reports: reports.clone(),
        next: None,
    };
    let hop2 = serve_grpc(hop2, root.clone()).await;
    let hop1 = HopService {
        reports,
        next: Some(grpc_client(hop2, RESERVE)),
    };
    let hop1 = serve_grpc(hop1, root.clone()).await;

    let mut client = grpc_client(hop1, Duration::ZERO);
    let (ctx, _cancel) = Context::background().with_value(TRACE).with_timeout(BUDGET);
    let started = Instant::now();
    let status = within("the client's call", call(&mut client, &ctx))
        .await
        .unwrap_err();
    eprintln!(
        "the client saw, after {:?}: {:?}: {}",
        started.elapsed(),
        status.code(),
        status.message()
    );
    assert_eq!(
        started.elapsed(),
        BUDGET - RESERVE,
        "the answer comes a reserve early"
    );

    assert_eq!(status.code(), tonic::Code::DeadlineExceeded, "{status}");
    assert!(
        status.message().starts_with(&format!(
            "context deadline exceeded calling POST http://{hop1}{METHOD}: the upstream answered grpc-status 4 (DEADLINE_EXCEEDED): "
        )),
        "{status}"
    );
    check_reports(rx, &format!("POST http://{hop2}{METHOD}")).await;
}
