//! The HTTP layer over real loopback sockets: when a request's context ends
//! (response produced, client gone, server shutdown), and how deadlines
//! cross process boundaries (`grpc-timeout`). Synchronization is by
//! channels, never by wall-clock thresholds; timeouts below only bound a
//! failing test.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use ctx::http::{
    format_grpc_timeout, inject, parse_grpc_timeout, ContextLayer, RequestEnded, RequestId,
    TraceId, GRPC_TIMEOUT,
};
use ctx::{CancelHandle, Context, Error};
use ctx_examples_support::{send, send_or_leave, serve, Server};
use http::{Request, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tower::{Layer, ServiceExt};

/// Bounds a step that must happen; only a broken test waits this long.
const BOUND: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn get_request(path: &str) -> Request<String> {
    Request::get(path).body(String::new()).unwrap()
}

/// A router whose handler hands its context to the test, then either
/// answers at once (`/now`) or waits for its context to end (`/wait`).
fn reporting_app(root: Context<'static>) -> (Router, mpsc::UnboundedReceiver<Context<'static>>) {
    let (tx, rx) = mpsc::unbounded_channel::<Context<'static>>();
    let now = {
        let tx = tx.clone();
        move |ctx: Context<'static>| async move {
            tx.send(ctx.clone()).unwrap();
            "done"
        }
    };
    let wait = move |ctx: Context<'static>| async move {
        tx.send(ctx.clone()).unwrap();
        let error = ctx.done().await;
        (StatusCode::SERVICE_UNAVAILABLE, error.to_string())
    };
    let app = Router::new()
        .route("/now", get(now))
        .route("/wait", get(wait))
        .layer(ContextLayer::new(root));
    (app, rx)
}

fn cause_of(ctx: &Context<'_>) -> Option<RequestEnded> {
    ctx.cause()?.downcast_ref::<RequestEnded>().copied()
}

/// Sends `request` to `server` and reads the whole response.
async fn fetch(server: &Server, request: Request<String>) -> http::Response<String> {
    within("response", send(server.addr, request))
        .await
        .unwrap()
}

/// Waits for a request's context to end, and checks why it did.
async fn assert_ended(ctx: &Context<'_>, why: RequestEnded) {
    assert_eq!(
        within("the end of the request", ctx.done()).await,
        Error::Canceled
    );
    assert_eq!(cause_of(ctx), Some(why));
}

/// Cancels the server's root and waits for the server to exit.
async fn stop(server: Server, shutdown: CancelHandle) {
    shutdown.cancel();
    within("server exit", server.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn context_is_cancelled_once_the_response_is_produced() {
    let (root, shutdown) = Context::background().with_cancel();
    let (app, mut contexts) = reporting_app(root.clone());
    let server = serve(app, root).await.unwrap();

    let response = fetch(&server, get_request("/now")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), "done");

    let ctx = contexts.recv().await.unwrap();
    assert_eq!(ctx.err(), Some(Error::Canceled));
    assert_eq!(cause_of(&ctx), Some(RequestEnded::Responded));
    assert!(ctx.value::<TraceId>().is_some());
    assert!(ctx.value::<RequestId>().is_some());

    stop(server, shutdown).await;
}

/// The layer around a whole router rather than added per route, served by
/// axum over a socket: the handler gets the same context, with the
/// incoming id, echoed, and the context ends with the response.
#[tokio::test]
async fn the_layer_around_a_router_gives_each_request_its_context() {
    let (root, shutdown) = Context::background().with_cancel();
    let (tx, mut contexts) = mpsc::unbounded_channel::<Context<'static>>();
    let app = Router::new().route(
        "/now",
        get(move |ctx: Context<'static>| async move {
            tx.send(ctx.clone()).unwrap();
            "done"
        }),
    );
    let service = ContextLayer::new(root.clone()).layer(app);
    let service =
        ServiceExt::<axum::extract::Request>::map_response(service, IntoResponse::into_response);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stopped = root.clone();
    let server = tokio::spawn(async move {
        let service = axum::ServiceExt::<axum::extract::Request>::into_make_service(service);
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                stopped.done().await;
            })
            .await
    });

    let mut request = get_request("/now");
    request
        .headers_mut()
        .insert("x-request-id", "around-1".parse().unwrap());
    let response = within("response", send(addr, request)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.body(), "done");
    assert_eq!(response.headers()["x-request-id"], "around-1");

    let ctx = contexts.recv().await.unwrap();
    assert_ended(&ctx, RequestEnded::Responded).await;
    assert_eq!(
        ctx.value::<RequestId>().map(RequestId::as_str),
        Some("around-1")
    );
    shutdown.cancel();
    within("server exit", server).await.unwrap().unwrap();
}

#[tokio::test]
async fn context_is_cancelled_when_the_client_goes_away() {
    let (root, shutdown) = Context::background().with_cancel();
    let (app, mut contexts) = reporting_app(root.clone());
    let server = serve(app, root).await.unwrap();

    // The client leaves as soon as the handler is running.
    let (running_tx, running_rx) = tokio::sync::oneshot::channel::<Context<'static>>();
    let client = tokio::spawn(send_or_leave(
        server.addr,
        get_request("/wait"),
        async move {
            let _ = running_rx.await;
        },
    ));
    let ctx = within("the handler", contexts.recv()).await.unwrap();
    assert!(!ctx.is_done(), "the client is still there");
    running_tx.send(ctx.clone()).unwrap();
    let left = within("the client", client).await.unwrap().unwrap();
    assert!(left.is_none(), "the client left before any response");

    assert_ended(&ctx, RequestEnded::Abandoned).await;

    stop(server, shutdown).await;
}

/// What a handler went through, in order, told by the handler itself.
#[derive(Clone)]
struct HandlerEvents(mpsc::UnboundedSender<&'static str>);

/// Says "dropped" when the handler's future is dropped, wherever it was.
struct DropReport(mpsc::UnboundedSender<&'static str>);

impl Drop for DropReport {
    fn drop(&mut self) {
        let _ = self.0.send("dropped");
    }
}

/// Waits for its context to end, saying when it runs and when it sees the
/// end.
async fn wait_for_the_end(State(events): State<HandlerEvents>, ctx: Context<'_>) -> String {
    let _report = DropReport(events.0.clone());
    events.0.send("running").unwrap();
    let ended = ctx.done().await;
    events.0.send("saw its context end").unwrap();
    ended.to_string()
}

#[tokio::test]
async fn a_client_leaving_drops_the_handler_where_it_waits() {
    let (root, shutdown) = Context::background().with_cancel();
    let (tx, mut events) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/wait", get(wait_for_the_end))
        .layer(ContextLayer::new(root.clone()))
        .with_state(HandlerEvents(tx));
    let server = serve(app, root).await.unwrap();

    let (leave, left) = tokio::sync::oneshot::channel::<()>();
    let client = tokio::spawn(send_or_leave(
        server.addr,
        get_request("/wait"),
        async move {
            let _ = left.await;
        },
    ));
    assert_eq!(within("the handler", events.recv()).await, Some("running"));
    leave.send(()).unwrap();
    let response = within("the client", client).await.unwrap().unwrap();
    assert!(response.is_none(), "the client left before any response");

    // Over HTTP/1, hyper drops the handler's future when the connection
    // closes: the handler never resumes to see its context end, nothing
    // after its pending `.await` runs.
    assert_eq!(
        within("the handler's end", events.recv()).await,
        Some("dropped")
    );
    stop(server, shutdown).await;
    assert_eq!(events.recv().await, None, "the handler did nothing more");
}

#[tokio::test]
async fn server_shutdown_cancels_requests_in_flight() {
    let (root, shutdown) = Context::background().with_cancel_cause();
    let (app, mut contexts) = reporting_app(root.clone());
    let server = serve(app, root).await.unwrap();

    let client = tokio::spawn(send(server.addr, get_request("/wait")));
    let ctx = within("the handler", contexts.recv()).await.unwrap();
    assert!(!ctx.is_done());

    shutdown.cancel("server shutting down");
    assert_eq!(within("cancellation", ctx.done()).await, Error::Canceled);
    assert_eq!(ctx.cause().unwrap().to_string(), "server shutting down");

    // Graceful: the handler saw the cancellation and still answered.
    let response = within("the response", client).await.unwrap().unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.body(), "context canceled");
    within("server exit", server.task).await.unwrap().unwrap();
}

/// Answers with the remaining budget of the request's context, in ns, or
/// "none".
fn budget_app(layer: ContextLayer, calls: Arc<AtomicUsize>) -> Router {
    let handler = move |ctx: Context<'static>| async move {
        calls.fetch_add(1, Ordering::SeqCst);
        match ctx.deadline() {
            Some(deadline) => (deadline - ctx::Instant::now()).as_nanos().to_string(),
            None => "none".to_owned(),
        }
    };
    Router::new().route("/", get(handler)).layer(layer)
}

async fn call(app: &Router, grpc_timeout: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get("/");
    if let Some(value) = grpc_timeout {
        request = request.header(GRPC_TIMEOUT, value);
    }
    respond(app, request.body(Body::empty()).unwrap()).await
}

/// Runs `request` through `app` in memory: the status and the body.
async fn respond(app: &Router, request: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test(start_paused = true)]
async fn grpc_timeout_becomes_the_request_deadline() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = budget_app(ContextLayer::new(Context::background()), calls.clone());

    assert_eq!(call(&app, None).await, (StatusCode::OK, "none".into()));
    assert_eq!(
        call(&app, Some("250m")).await,
        (StatusCode::OK, "250000000".into())
    );
    assert_eq!(
        call(&app, Some("3S")).await,
        (StatusCode::OK, "3000000000".into())
    );
    assert_eq!(
        call(&app, Some("1500u")).await,
        (StatusCode::OK, "1500000".into())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

#[tokio::test(start_paused = true)]
async fn grpc_timeout_is_capped_by_max_timeout() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = ContextLayer::new(Context::background()).max_timeout(Duration::from_secs(2));
    let app = budget_app(layer, calls);
    assert_eq!(
        call(&app, Some("99999999H")).await,
        (StatusCode::OK, "2000000000".into())
    );
    assert_eq!(
        call(&app, Some("1S")).await,
        (StatusCode::OK, "1000000000".into())
    );

    // The default cap: five minutes.
    let app = budget_app(ContextLayer::new(Context::background()), Arc::default());
    assert_eq!(call(&app, Some("99999999H")).await.1, "300000000000");
}

#[tokio::test(start_paused = true)]
async fn a_zero_grpc_timeout_is_already_expired() {
    let handler = |ctx: Context<'static>| async move { format!("{:?}", ctx.err()) };
    let app = Router::new()
        .route("/", get(handler))
        .layer(ContextLayer::new(Context::background()));
    assert_eq!(call(&app, Some("0n")).await.1, "Some(DeadlineExceeded)");
}

#[tokio::test(start_paused = true)]
async fn malformed_grpc_timeout_is_a_400_that_says_why() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = budget_app(ContextLayer::new(Context::background()), calls.clone());
    for bad in [
        "",
        "1",
        "S",
        "10x",
        "1.5S",
        "-1S",
        "123456789S",
        "\u{1F600}",
        "10 S",
    ] {
        let (status, body) = call(&app, Some(bad)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert!(
            body.starts_with("malformed grpc-timeout: "),
            "{bad:?}: {body}"
        );
        assert!(body.contains("e.g. \"250m\""), "{body}");
    }
    // Not valid UTF-8, not even visible ASCII: still a 400, never a panic.
    let request = Request::get("/")
        .header(
            GRPC_TIMEOUT,
            http::HeaderValue::from_bytes(b"\xff\xfeS").unwrap(),
        )
        .body(Body::empty())
        .unwrap();
    assert_eq!(respond(&app, request).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler never ran");
}

#[tokio::test]
async fn malformed_grpc_timeout_over_a_socket() {
    let (root, shutdown) = Context::background().with_cancel();
    let app = budget_app(ContextLayer::new(root.clone()), Arc::default());
    let server = serve(app, root).await.unwrap();
    let request = Request::get("/")
        .header(GRPC_TIMEOUT, "10 seconds")
        .body(String::new())
        .unwrap();
    let response = fetch(&server, request).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.body(),
        "malformed grpc-timeout: the unit must be one of H, M, S, m, u, n (expected 1 to 8 digits and a unit, e.g. \"250m\")\n"
    );
    stop(server, shutdown).await;
}

#[tokio::test]
async fn the_extractor_without_the_layer_is_a_500_naming_it() {
    let app = Router::new().route("/", get(|_ctx: Context<'static>| async { "unreachable" }));
    let (status, body) = call(&app, None).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("ContextLayer"), "{body}");
}

#[tokio::test]
async fn incoming_trace_and_request_ids_are_kept() {
    let handler = |ctx: Context<'static>| async move {
        format!(
            "{} {}",
            ctx.value::<TraceId>().unwrap(),
            ctx.value::<RequestId>().unwrap()
        )
    };
    let app = Router::new()
        .route("/", get(handler))
        .layer(ContextLayer::new(Context::background()));
    let request = Request::get("/")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("x-request-id", "req-42")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        respond(&app, request).await,
        (
            StatusCode::OK,
            "4bf92f3577b34da6a3ce929d0e0e4736 req-42".into()
        )
    );
}

/// A request context prints its values by their type names, not by the
/// private modules the types are defined in (`ctx::http::ids::TraceId`).
#[tokio::test]
async fn a_request_context_displays_its_values_by_type_name() {
    let app = Router::new()
        .route(
            "/",
            get(|ctx: Context<'static>| async move { ctx.to_string() }),
        )
        .layer(ContextLayer::new(Context::background()));
    let (status, chain) = call(&app, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        chain.starts_with("context.Background.WithCancel"),
        "{chain}"
    );
    assert!(chain.contains(".WithValue(TraceId)"), "{chain}");
    assert!(chain.contains(".WithValue(RequestId)"), "{chain}");
    assert!(!chain.contains("::"), "{chain}");
}

/// Client → edge → backend, over sockets: the edge's budget (from the
/// client's `grpc-timeout`) and trace reach the backend through `inject`,
/// and the backend's slow inner call is cut off at that deadline.
#[tokio::test]
async fn deadline_propagates_client_to_server_to_inner_call() {
    let (root, shutdown) = Context::background().with_cancel();

    // The backend: reports its budget and trace, then runs a slow inner
    // call under its request context.
    let backend = Router::new()
        .route(
            "/lookup",
            get(|ctx: Context<'static>| async move {
                let budget = ctx.deadline().map(|d| d - ctx::Instant::now());
                let trace = ctx.value::<TraceId>().unwrap().to_string();
                let inner = ctx.run(tokio::time::sleep(Duration::from_secs(3600))).await;
                format!("{} {trace} {:?}", budget.map_or(0, |b| b.as_nanos()), inner)
            }),
        )
        .layer(ContextLayer::new(root.clone()));
    let backend = serve(backend, root.clone()).await.unwrap();

    // The edge: calls the backend with its own request context.
    let backend_addr = backend.addr;
    let edge = Router::new()
        .route(
            "/search",
            get(move |ctx: Context<'static>| async move {
                let edge_budget = (ctx.deadline().unwrap() - ctx::Instant::now()).as_nanos();
                let mut request = get_request("/lookup");
                inject(&ctx, request.headers_mut()).unwrap();
                let sent = parse_grpc_timeout(request.headers()[GRPC_TIMEOUT].as_bytes()).unwrap();
                assert!(
                    sent.as_nanos() <= edge_budget + 1_000,
                    "never more than the edge has"
                );
                let answer = send(backend_addr, request).await.unwrap();
                format!(
                    "{edge_budget} {} {}",
                    ctx.value::<TraceId>().unwrap(),
                    answer.body()
                )
            }),
        )
        .layer(ContextLayer::new(root.clone()));
    let edge = serve(edge, root).await.unwrap();

    let client_trace = TraceId::generate();
    // Only has to outlast two loopback hops (every check below is
    // relative); generous, so a loaded CI machine cannot spend it first.
    // The test waits it out: the backend's inner call ends at the deadline.
    let budget = Duration::from_secs(2);
    let request = Request::get("/search")
        .header(GRPC_TIMEOUT, format_grpc_timeout(budget))
        .header("traceparent", client_trace.to_traceparent())
        .body(String::new())
        .unwrap();
    let response = within("the edge", send(edge.addr, request)).await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.body());

    let fields: Vec<&str> = response.body().split(' ').collect();
    let [edge_budget, edge_trace, backend_budget, backend_trace, inner] = fields[..] else {
        panic!("unexpected body {:?}", response.body())
    };
    let (edge_budget, backend_budget): (u128, u128) = (
        edge_budget.parse().unwrap(),
        backend_budget.parse().unwrap(),
    );
    assert!(edge_budget <= budget.as_nanos());
    assert!(
        backend_budget > 0 && backend_budget <= edge_budget,
        "{backend_budget} vs {edge_budget}"
    );
    assert_eq!(edge_trace, client_trace.to_string());
    assert_eq!(backend_trace, client_trace.to_string());
    assert_eq!(
        inner, "Err(DeadlineExceeded)",
        "the hour-long inner call was cut at the deadline"
    );

    shutdown.cancel();
    within("edge exit", edge.task).await.unwrap().unwrap();
    within("backend exit", backend.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn state_and_ctx_extract_together() {
    let handler = |State(name): State<&'static str>, ctx: Context<'static>| async move {
        format!("{name} {}", ctx.is_done())
    };
    let app = Router::new()
        .route("/", get(handler))
        .layer(ContextLayer::new(Context::background()))
        .with_state("svc");
    let (status, body) = call(&app, None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "svc false"));
}

/// Reads from `stream` until `needle` has arrived (or the stream ends);
/// returns everything read.
/// A raw HTTP/1.1 client that asked for `/stream` and read its head and
/// first chunk, still connected.
async fn first_chunk_of_stream(server: &Server) -> TcpStream {
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    client
        .write_all(b"GET /stream HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let received = within("the first chunk", read_until(&mut client, "chunk 1")).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    client
}

async fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    let mut raw = Vec::new();
    let mut buf = [0; 1024];
    while !String::from_utf8_lossy(&raw).contains(needle) {
        let n = stream.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&raw).into_owned()
}

/// A handler streaming its body after the head (`Body::from_stream`):
/// `chunks` chunks, each saying whether the request's context was live
/// when it was produced; then, with `chunks: None`, one every few
/// milliseconds until the client goes away (a server-sent-events
/// heartbeat).
fn streaming_app(
    root: Context<'static>,
    chunks: Option<usize>,
) -> (Router, mpsc::UnboundedReceiver<Context<'static>>) {
    let (tx, rx) = mpsc::unbounded_channel::<Context<'static>>();
    let handler = move |ctx: Context<'static>| async move {
        tx.send(ctx.clone()).unwrap();
        let stream = futures_util::stream::unfold(0, move |n| {
            let ctx = ctx.clone();
            async move {
                if chunks.is_some_and(|chunks| n == chunks) {
                    return None;
                }
                if n > 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                let chunk = format!("chunk {n}: {:?}\n", ctx.err());
                Some((Ok::<_, std::io::Error>(chunk), n + 1))
            }
        });
        Body::from_stream(stream)
    };
    let app = Router::new()
        .route("/stream", get(handler))
        .layer(ContextLayer::new(root));
    (app, rx)
}

#[tokio::test]
async fn a_streamed_body_runs_under_a_live_context_which_ends_after_its_last_chunk() {
    let (root, shutdown) = Context::background().with_cancel();
    let (app, mut contexts) = streaming_app(root.clone(), Some(3));
    let server = serve(app, root).await.unwrap();

    let response = fetch(&server, get_request("/stream")).await;
    assert_eq!(response.status(), 200);
    // Every chunk was produced after the handler returned the head, and
    // saw the request still live.
    assert_eq!(
        response.body(),
        "chunk 0: None\nchunk 1: None\nchunk 2: None\n"
    );
    let ctx = contexts.recv().await.unwrap();
    assert_ended(&ctx, RequestEnded::Responded).await;

    stop(server, shutdown).await;
}

#[tokio::test]
async fn a_client_leaving_mid_body_ends_the_request_as_abandoned() {
    let (root, shutdown) = Context::background().with_cancel();
    let (app, mut contexts) = streaming_app(root.clone(), None);
    let server = serve(app, root).await.unwrap();

    let client = first_chunk_of_stream(&server).await;
    let ctx = contexts.recv().await.unwrap();
    assert!(!ctx.is_done(), "the body is still streaming");
    drop(client);

    assert_ended(&ctx, RequestEnded::Abandoned).await;

    stop(server, shutdown).await;
}

#[tokio::test]
async fn the_response_echoes_the_request_id() {
    let (root, shutdown) = Context::background().with_cancel();
    let (app, _contexts) = reporting_app(root.clone());
    let server = serve(app, root).await.unwrap();

    let request = Request::get("/now")
        .header("x-request-id", "req-42")
        .body(String::new())
        .unwrap();
    let response = fetch(&server, request).await;
    assert_eq!(response.headers()["x-request-id"], "req-42");

    // A generated one too, and on a request the layer rejects.
    let response = fetch(&server, get_request("/now")).await;
    assert!(!response.headers()["x-request-id"].is_empty());
    let request = Request::get("/now")
        .header("x-request-id", "req-43")
        .header(GRPC_TIMEOUT, "soon")
        .body(String::new())
        .unwrap();
    let response = fetch(&server, request).await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["x-request-id"], "req-43");

    stop(server, shutdown).await;
}

#[tokio::test(start_paused = true)]
async fn a_request_without_grpc_timeout_gets_the_default_timeout() {
    let layer = ContextLayer::new(Context::background())
        .default_timeout(Duration::from_secs(2))
        .max_timeout(Duration::from_secs(5));
    let app = budget_app(layer, Arc::default());
    assert_eq!(call(&app, None).await.1, "2000000000");
    // An incoming budget wins, shorter or longer, capped as ever.
    assert_eq!(call(&app, Some("250m")).await.1, "250000000");
    assert_eq!(call(&app, Some("4S")).await.1, "4000000000");
    assert_eq!(call(&app, Some("1M")).await.1, "5000000000");
}

#[tokio::test(start_paused = true)]
async fn a_context_error_is_a_504_for_a_deadline_and_a_503_for_a_cancel() {
    async fn search(ctx: Context<'_>) -> Result<String, Error> {
        ctx.run(tokio::time::sleep(Duration::from_secs(5))).await?;
        Ok("results".to_owned())
    }
    let app = Router::new()
        .route("/", get(search))
        .layer(ContextLayer::new(Context::background()));
    assert_eq!(
        call(&app, Some("1S")).await,
        (
            StatusCode::GATEWAY_TIMEOUT,
            "context deadline exceeded".into()
        )
    );
    assert_eq!(call(&app, None).await, (StatusCode::OK, "results".into()));

    let (root, shutdown) = Context::background().with_cancel();
    let app = Router::new()
        .route("/", get(search))
        .layer(ContextLayer::new(root));
    shutdown.cancel();
    assert_eq!(
        call(&app, None).await,
        (StatusCode::SERVICE_UNAVAILABLE, "context canceled".into())
    );
}

/// The recipe of `ctx::http`'s docs: middleware inside the layer puts an
/// authenticated user in the request's context.
mod add_a_value_in_middleware {
    use super::*;
    use axum::extract::Request as AxumRequest;
    use axum::middleware::{self, Next};
    use axum::response::{IntoResponse, Response};
    use ctx::http::RequestContextExt;

    #[derive(Clone, Debug, PartialEq)]
    struct User(String);

    async fn authenticate(mut request: AxumRequest, next: Next) -> Response {
        let user = match request.headers().get("x-user").map(|v| v.to_str()) {
            Some(Ok(user)) => User(user.to_owned()),
            _ => return StatusCode::UNAUTHORIZED.into_response(),
        };
        if let Err(missing) = request.map_context(|ctx| ctx.with_value(user)) {
            return missing.into_response();
        }
        next.run(request).await
    }

    #[tokio::test]
    async fn the_handler_sees_the_user_in_the_requests_context() {
        let (tx, mut contexts) = mpsc::unbounded_channel::<Context<'static>>();
        let handler = move |ctx: Context<'static>| async move {
            tx.send(ctx.clone()).unwrap();
            let user = ctx.value::<User>().unwrap();
            let trace = ctx.value::<TraceId>().unwrap();
            format!("hello {} ({})", user.0, trace.0 != 0)
        };
        let app = Router::new()
            .route("/", get(handler))
            .layer(middleware::from_fn(authenticate))
            .layer(ContextLayer::new(Context::background()));

        let request = Request::get("/")
            .header("x-user", "ada")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            respond(&app, request).await,
            (StatusCode::OK, "hello ada (true)".into())
        );
        // Still the request's context: it ended with the response.
        let ctx = contexts.recv().await.unwrap();
        assert_eq!(cause_of(&ctx), Some(RequestEnded::Responded));

        let anonymous = Request::get("/").body(Body::empty()).unwrap();
        assert_eq!(respond(&app, anonymous).await.0, StatusCode::UNAUTHORIZED);
    }
}

/// Sends `()` when dropped: tells the test a stream is gone.
struct SaysWhenDropped(mpsc::UnboundedSender<()>);

impl Drop for SaysWhenDropped {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

/// A body streamed under the request's context with `Context::stream`: a
/// first chunk, then a wait on the context for the next one, which never
/// comes.
async fn streamed_until_the_end(
    State(dropped): State<mpsc::UnboundedSender<()>>,
    ctx: Context<'_>,
) -> Body {
    Body::from_stream(ctx.stream(move |ctx| {
        let said = SaysWhenDropped(dropped);
        let chunks = futures_util::stream::unfold((ctx, said, 0), |(ctx, said, sent)| async move {
            if sent == 0 {
                return Some((Ok::<_, Error>("chunk 1\n"), (ctx, said, 1)));
            }
            let next = ctx.run(std::future::pending::<()>()).await;
            next.err().map(|err| (Err(err), (ctx, said, 2)))
        });
        Box::pin(chunks)
    }))
}

#[tokio::test]
async fn a_context_stream_stops_when_the_client_leaves() {
    let (root, shutdown) = Context::background().with_cancel();
    let (dropped, mut stream_dropped) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/stream", get(streamed_until_the_end))
        .with_state(dropped)
        .layer(ContextLayer::new(root.clone()));
    let server = serve(app, root).await.unwrap();

    let client = first_chunk_of_stream(&server).await;
    drop(client);

    within("the stream's end", stream_dropped.recv()).await;
    stop(server, shutdown).await;
}
