//! Both ends of a budget, one behaviour at a time: the deadline headers the
//! server layer honours, and what the client layer sends, refuses to send,
//! cuts and maps back. (The two together, across three hops, are in
//! `deadline_hops.rs`.) Deadlines run on tokio's paused clock; cancellation
//! and the 400 go over real loopback sockets with hyper-util's client.

use std::future::{pending, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::routing::get;
use axum::Router;
use ctx::http::client::{CallError, CallErrorReason, ClientError, DeadlineLayer};
use ctx::http::{
    ContextLayer, DeadlineHeader, RequestEnded, TraceId, CONNECT_TIMEOUT_MS,
    ENVOY_EXPECTED_RQ_TIMEOUT_MS, GRPC_TIMEOUT, TRACEPARENT,
};
use ctx::{Context, Error, Instant};
use ctx_examples_support::serve;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tower::{service_fn, Layer, ServiceExt};

/// Bounds a step that must happen; only a broken test waits this long.
const BOUND: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

// ------------------------------------------------------- incoming side --

/// A router answering with its request's remaining budget in ms, or
/// "none"; counts the handler's runs.
fn budget_app(layer: ContextLayer, calls: Arc<AtomicUsize>) -> Router {
    let handler = move |ctx: Context<'static>| async move {
        calls.fetch_add(1, Ordering::SeqCst);
        match ctx.deadline() {
            Some(deadline) => (deadline - Instant::now()).as_millis().to_string(),
            None => "none".to_owned(),
        }
    };
    Router::new().route("/", get(handler)).layer(layer)
}

async fn budget_of(app: &Router, headers: &[(DeadlineHeader, &str)]) -> (StatusCode, String) {
    let mut request = Request::get("/");
    for (header, value) in headers {
        request = request.header(header.name(), *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

use DeadlineHeader::{ConnectTimeoutMs, EnvoyExpectedRqTimeoutMs, GrpcTimeout};

#[tokio::test(start_paused = true)]
async fn every_deadline_header_becomes_the_request_deadline() {
    let app = budget_app(ContextLayer::new(Context::background()), Arc::default());
    let ok = |budget: &str| (StatusCode::OK, budget.to_owned());
    assert_eq!(budget_of(&app, &[]).await, ok("none"));
    assert_eq!(budget_of(&app, &[(GrpcTimeout, "250m")]).await, ok("250"));
    assert_eq!(
        budget_of(&app, &[(ConnectTimeoutMs, "250")]).await,
        ok("250")
    );
    assert_eq!(
        budget_of(&app, &[(EnvoyExpectedRqTimeoutMs, "15000")]).await,
        ok("15000")
    );
    // Each is a caller saying when it gives up: the earliest wins.
    let all = [
        (GrpcTimeout, "3S"),
        (ConnectTimeoutMs, "2000"),
        (EnvoyExpectedRqTimeoutMs, "1000"),
    ];
    assert_eq!(budget_of(&app, &all).await, ok("1000"));
    // Zero is a budget already spent.
    let handler = |ctx: Context<'static>| async move { format!("{:?}", ctx.err()) };
    let app = Router::new()
        .route("/", get(handler))
        .layer(ContextLayer::new(Context::background()));
    assert_eq!(
        budget_of(&app, &[(ConnectTimeoutMs, "0")]).await.1,
        "Some(DeadlineExceeded)"
    );
}

#[tokio::test(start_paused = true)]
async fn every_deadline_header_is_capped_by_max_timeout() {
    let layer = ContextLayer::new(Context::background()).max_timeout(Duration::from_secs(2));
    let app = budget_app(layer, Arc::default());
    for (header, huge) in [
        (GrpcTimeout, "99999999H"),
        (ConnectTimeoutMs, "9999999999"),
        (EnvoyExpectedRqTimeoutMs, "9999999999"),
    ] {
        assert_eq!(
            budget_of(&app, &[(header, huge)]).await.1,
            "2000",
            "{header}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_header_switched_off_is_ignored_even_malformed() {
    let calls = Arc::new(AtomicUsize::new(0));
    let layer = ContextLayer::new(Context::background())
        .deadline_header(EnvoyExpectedRqTimeoutMs, false)
        .deadline_header(ConnectTimeoutMs, false);
    let app = budget_app(layer, calls.clone());
    let headers = [
        (EnvoyExpectedRqTimeoutMs, "15000"),
        (ConnectTimeoutMs, "soon"),
        (GrpcTimeout, "2S"),
    ];
    assert_eq!(
        budget_of(&app, &headers).await,
        (StatusCode::OK, "2000".into())
    );
    let app = budget_app(
        ContextLayer::new(Context::background()).deadline_header(GrpcTimeout, false),
        calls.clone(),
    );
    assert_eq!(budget_of(&app, &[(GrpcTimeout, "1S")]).await.1, "none");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn malformed_millisecond_headers_are_a_400_naming_the_header() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = budget_app(ContextLayer::new(Context::background()), calls.clone());
    for header in [ConnectTimeoutMs, EnvoyExpectedRqTimeoutMs] {
        for bad in ["", "1.5", "-1", "250ms", "12345678901", " 1"] {
            let (status, body) = budget_of(&app, &[(header, bad)]).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{header}: {bad:?}");
            assert!(body.starts_with(&format!("malformed {header}: ")), "{body}");
            assert!(
                body.ends_with("(expected 1 to 10 digits of milliseconds, e.g. \"250\")\n"),
                "{body}"
            );
        }
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the handler never ran");
}

fn hyper_client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

#[tokio::test]
async fn a_malformed_connect_timeout_over_a_socket() {
    let (root, _shutdown) = Context::background().with_cancel();
    let app = budget_app(ContextLayer::new(root.clone()), Arc::default());
    let addr = serve(app, root).await.unwrap().addr;
    let request = Request::get(format!("http://{addr}/"))
        .header(CONNECT_TIMEOUT_MS, "2.5")
        .body(Full::default())
        .unwrap();
    let response = within("response", hyper_client().request(request))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(
        body,
        "malformed connect-timeout-ms: only ASCII digits are allowed (expected 1 to 10 digits of milliseconds, e.g. \"250\")\n"
    );
}

// ------------------------------------------------------- outgoing side --

/// An upstream that answers at once with the request's headers.
fn echo_headers() -> impl tower::Service<
    Request<()>,
    Response = Response<HeaderMap>,
    Error = std::io::Error,
    Future = impl Future<Output = Result<Response<HeaderMap>, std::io::Error>>,
> + Clone {
    service_fn(|request: Request<()>| async move { Ok(Response::new(request.headers().clone())) })
}

fn request_under(ctx: &Context<'static>) -> Request<()> {
    let mut request = Request::get("http://upstream.test/items").body(()).unwrap();
    request.extensions_mut().insert(ctx.clone());
    request
}

/// The context error a call under `ctx` through `client` must fail with.
async fn call_error<S, B>(client: S, ctx: &Context<'static>) -> CallError
where
    S: tower::Service<Request<()>, Response = Response<B>, Error = ClientError<std::io::Error>>,
{
    match within("the call", client.oneshot(request_under(ctx))).await {
        Err(ClientError::Context(error)) => error,
        Err(error) => panic!("expected a context error, got {error}"),
        Ok(response) => panic!("expected a context error, got {}", response.status()),
    }
}

/// The headers a request under `ctx` leaves `layer` with.
async fn headers_sent(layer: DeadlineLayer, ctx: &Context<'static>) -> HeaderMap {
    let client = layer.layer(echo_headers());
    client
        .oneshot(request_under(ctx))
        .await
        .unwrap()
        .into_body()
}

#[tokio::test(start_paused = true)]
async fn the_budget_minus_the_reserve_goes_out_as_each_chosen_header() {
    let (ctx, _cancel) = Context::background()
        .with_value(TraceId(7))
        .with_timeout(Duration::from_millis(300));

    let layer = DeadlineLayer::new().reserve(Duration::from_millis(50));
    let sent = headers_sent(layer, &ctx).await;
    assert_eq!(sent[GRPC_TIMEOUT], "250000u");
    assert!(!sent.contains_key(CONNECT_TIMEOUT_MS));
    assert!(!sent.contains_key(ENVOY_EXPECTED_RQ_TIMEOUT_MS));
    let trace = TraceId::parse_traceparent(sent[TRACEPARENT].to_str().unwrap());
    assert_eq!(trace, Some(TraceId(7)));

    let layer = DeadlineLayer::new()
        .reserve(Duration::ZERO)
        .header(GrpcTimeout, false)
        .header(ConnectTimeoutMs, true)
        .header(EnvoyExpectedRqTimeoutMs, true);
    let sent = headers_sent(layer, &ctx).await;
    assert!(!sent.contains_key(GRPC_TIMEOUT));
    assert_eq!(sent[CONNECT_TIMEOUT_MS], "300");
    assert_eq!(sent[ENVOY_EXPECTED_RQ_TIMEOUT_MS], "300");

    // Without a deadline there is no budget to send, only the trace.
    let sent = headers_sent(
        DeadlineLayer::new(),
        &Context::background().with_value(TraceId(7)),
    )
    .await;
    assert!(!sent.contains_key(GRPC_TIMEOUT));
    assert!(sent.contains_key(TRACEPARENT));
}

/// An upstream that counts its calls and answers at once.
fn counting(
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<
    Request<()>,
    Response = Response<()>,
    Error = std::io::Error,
    Future = impl Future<Output = Result<Response<()>, std::io::Error>>,
> + Clone {
    service_fn(move |_: Request<()>| {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Ok(Response::new(())) }
    })
}

#[tokio::test(start_paused = true)]
async fn below_the_minimum_budget_nothing_is_sent() {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = DeadlineLayer::new()
        .reserve(Duration::from_millis(50))
        .min_budget(Duration::from_millis(10))
        .layer(counting(calls.clone()));
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(59));

    let error = call_error(client.clone(), &ctx).await;
    assert_eq!(error.error(), Error::DeadlineExceeded);
    let CallErrorReason::BudgetBelowMinimum { budget, min_budget } = *error.reason() else {
        panic!("{error}")
    };
    assert_eq!(
        (budget, min_budget),
        (Duration::from_millis(9), Duration::from_millis(10))
    );
    assert_eq!(
        error.to_string(),
        "context deadline exceeded calling GET http://upstream.test/items: 9ms left for the upstream, below the minimum of 10ms; not sent"
    );

    // A reserve larger than what is left leaves nothing to give, whatever
    // the minimum.
    let client = DeadlineLayer::new()
        .reserve(Duration::from_secs(1))
        .min_budget(Duration::ZERO)
        .layer(counting(calls.clone()));
    let error = client.oneshot(request_under(&ctx)).await.unwrap_err();
    assert_eq!(error.context_error(), Some(Error::DeadlineExceeded));
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent");
}

/// `error` is a cancelled caller's, `sent` or not, its message ending so.
fn assert_caller_done(error: &CallError, sent: bool, ending: &str) {
    assert_eq!(error.error(), Error::Canceled);
    assert!(
        matches!(error.reason(), CallErrorReason::CallerDone { sent: s, .. } if *s == sent),
        "{error}"
    );
    assert!(error.to_string().ends_with(ending), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_done_caller_sends_nothing_and_says_why() {
    let calls = Arc::new(AtomicUsize::new(0));
    let client = DeadlineLayer::new().layer(counting(calls.clone()));
    let (ctx, cancel) = Context::background().with_cancel_cause();
    cancel.cancel("user gave up");
    let error = call_error(client.clone(), &ctx).await;
    assert_caller_done(&error, false, "not sent (cause: user gave up)");

    let (expired, _cancel) = Context::background().with_timeout(Duration::from_millis(5));
    tokio::time::sleep(Duration::from_millis(5)).await;
    let error = client
        .clone()
        .oneshot(request_under(&expired))
        .await
        .unwrap_err();
    assert_eq!(error.context_error(), Some(Error::DeadlineExceeded));

    // No context at all is an error, not a call without a budget.
    let error = client.oneshot(Request::new(())).await.unwrap_err();
    assert!(matches!(error, ClientError::NoContext), "{error}");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent");
}

#[tokio::test(start_paused = true)]
async fn an_upstream_that_never_answers_is_dropped_when_its_budget_is_spent() {
    /// Counts the upstream's calls still alive.
    struct Alive(Arc<AtomicUsize>);
    impl Drop for Alive {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let alive = Arc::new(AtomicUsize::new(0));
    let upstream = {
        let alive = alive.clone();
        service_fn(move |_: Request<()>| {
            alive.fetch_add(1, Ordering::SeqCst);
            let guard = Alive(alive.clone());
            async move {
                let _guard = guard;
                pending::<Result<Response<()>, std::io::Error>>().await
            }
        })
    };
    let client = DeadlineLayer::new()
        .reserve(Duration::from_millis(50))
        .layer(upstream);
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(300));
    let start = Instant::now();
    let error = call_error(client, &ctx).await;
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(250),
        "the reserve is left"
    );
    assert_eq!(error.error(), Error::DeadlineExceeded);
    assert!(
        matches!(error.reason(), CallErrorReason::NoAnswerInTime { budget } if *budget == Duration::from_millis(250))
    );
    assert_eq!(alive.load(Ordering::SeqCst), 0, "the call was dropped");
    assert_eq!(ctx.err(), None, "the caller still has its reserve");
}

#[tokio::test(start_paused = true)]
async fn an_answer_once_the_budget_is_spent_is_not_taken() {
    // What a tonic server answers when its own timer for the budget fires:
    // `CANCELLED`, at the very instant the caller's budget for it ends.
    let upstream = service_fn(|_: Request<()>| async {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let response = Response::builder()
            .header("grpc-status", "1")
            .body(())
            .unwrap();
        Ok::<_, std::io::Error>(response)
    });
    let client = DeadlineLayer::new()
        .reserve(Duration::from_millis(50))
        .layer(upstream);
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(300));
    let error = call_error(client, &ctx).await;
    assert!(
        matches!(error.reason(), CallErrorReason::NoAnswerInTime { .. }),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_upstream_deadline_maps_back_to_deadline_exceeded() {
    let answer = |status: u16, grpc: Option<(&'static str, &'static str)>| {
        service_fn(move |_: Request<()>| async move {
            let mut response = Response::builder().status(status);
            if let Some((code, message)) = grpc {
                response = response
                    .header("grpc-status", code)
                    .header("grpc-message", message);
            }
            Ok::<_, std::io::Error>(response.body(()).unwrap())
        })
    };
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(1));
    let layer = DeadlineLayer::new();

    let error = call_error(layer.layer(answer(504, None)), &ctx).await;
    assert_eq!(error.error(), Error::DeadlineExceeded);
    assert!(error
        .to_string()
        .ends_with("http://upstream.test/items: the upstream answered 504 Gateway Timeout"));

    // gRPC answers an error before any message in its headers, the message
    // percent-encoded.
    let grpc = answer(200, Some(("4", "stock%20lookup%20ran%20out")));
    let error = call_error(layer.layer(grpc), &ctx).await;
    assert_eq!(error.error(), Error::DeadlineExceeded);
    assert!(
        matches!(error.reason(), CallErrorReason::Upstream { grpc_message: Some(message), .. } if message == "stock lookup ran out"),
        "{error}"
    );

    // Other answers, a cancelled upstream's included, are the caller's to read.
    for (status, grpc) in [
        (200, None),
        (503, None),
        (499, None),
        (200, Some(("1", "cancelled"))),
        (200, Some(("14", "unavailable"))),
    ] {
        let response = layer
            .layer(answer(status, grpc))
            .oneshot(request_under(&ctx))
            .await;
        assert_eq!(response.unwrap().status(), status, "{grpc:?}");
    }
}

#[tokio::test]
async fn a_cancelled_caller_drops_the_call_and_the_upstream_sees_it() {
    // The upstream hands the test its request context and waits for it to
    // end: only the caller hanging up can end it.
    let (contexts_tx, mut contexts) = mpsc::unbounded_channel::<Context<'static>>();
    let wait = move |ctx: Context<'static>| async move {
        contexts_tx.send(ctx.clone()).unwrap();
        ctx.done().await;
        "ended"
    };
    let (root, _shutdown) = Context::background().with_cancel();
    let app = Router::new()
        .route("/", get(wait))
        .layer(ContextLayer::new(root.clone()));
    let addr = serve(app, root).await.unwrap().addr;

    let client = DeadlineLayer::new().layer(hyper_client());
    let (ctx, cancel) = Context::background().with_cancel_cause();
    let mut request = Request::get(format!("http://{addr}/"))
        .body(Full::default())
        .unwrap();
    request.extensions_mut().insert(ctx.clone());
    let call = tokio::spawn(client.oneshot(request));

    let upstream = within("the upstream's request", contexts.recv())
        .await
        .unwrap();
    cancel.cancel("user gave up");
    let error = within("the call", call).await.unwrap().unwrap_err();
    let ClientError::Context(error) = error else {
        panic!("{error}")
    };
    assert_caller_done(&error, true, "the call was dropped (cause: user gave up)");

    // Dropping the call closed its connection: the upstream's request
    // context ends as abandoned.
    within("the upstream's context to end", upstream.done()).await;
    let cause = upstream.cause().unwrap();
    assert_eq!(
        cause.downcast_ref::<RequestEnded>(),
        Some(&RequestEnded::Abandoned)
    );
}
