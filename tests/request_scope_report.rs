//! The run-time half of the request scope, over real loopback sockets: a
//! handler that wrote `Context<'static>` by hand and left work waiting on
//! the request's context after its response was sent (the lost publish) is
//! reported, once per place, naming the place; work that waits on a
//! request's context that ended otherwise (the client left, its deadline,
//! the server's shutdown, a streamed body that finished) is not.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use axum::Router;
use ctx::http::{ContextLayer, GRPC_TIMEOUT};
use ctx::{CancelHandle, Context, Error};
use ctx_examples_support::{send, send_or_leave, serve, Server};
use futures_util::{stream, StreamExt};
use http::Request;
use tokio::sync::mpsc;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{self, Layer, SubscriberExt};

/// Bounds a step that must happen; only a broken test waits this long.
const BOUND: Duration = Duration::from_secs(10);

async fn within<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// The ERROR events of this thread, as a subscriber sees them.
#[derive(Clone, Default)]
struct Reports(Arc<Mutex<Vec<String>>>);

impl Reports {
    /// Installs a subscriber recording them, for this thread (the tests'
    /// runtime, server and client included, run on it).
    fn install() -> (Reports, tracing::subscriber::DefaultGuard) {
        let reports = Reports::default();
        let subscriber = tracing_subscriber::registry().with(reports.clone());
        (reports, tracing::subscriber::set_default(subscriber))
    }

    fn seen(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

impl<S: tracing::Subscriber> Layer<S> for Reports {
    fn on_event(&self, event: &tracing::Event<'_>, _: layer::Context<'_, S>) {
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        if *event.metadata().level() == tracing::Level::ERROR {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0.lock().unwrap().push(message.0);
        }
    }
}

/// Where a report names a line of this file.
fn place(line: u32) -> String {
    format!("{}:{line}:", file!())
}

async fn start(app: Router) -> (Server, CancelHandle) {
    let (root, shutdown) = Context::background().with_cancel();
    let server = serve(app.layer(ContextLayer::new(root.clone())), root)
        .await
        .unwrap();
    (server, shutdown)
}

fn get_request(path: &str) -> Request<String> {
    Request::get(path).body(String::new()).unwrap()
}

/// How a wait on a request's context ended, and where it was.
type Waited = (u32, Result<(), Error>);

/// The story: the handler answers, and leaves a publish waiting on the
/// request's context, which it took as `Context<'static>`.
async fn publish_after_answering(
    State(waited): State<mpsc::UnboundedSender<Waited>>,
    ctx: Context<'static>,
) -> &'static str {
    tokio::spawn(async move {
        let (line, publish) = (line!(), ctx.run(tokio::time::sleep(Duration::from_secs(5))));
        waited.send((line, publish.await)).unwrap();
    });
    "answered"
}

#[tokio::test]
async fn work_left_waiting_on_an_answered_request_is_reported_once_at_its_place() {
    let (reports, _subscriber) = Reports::install();
    let (tx, mut waited) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/", get(publish_after_answering))
        .with_state(tx);
    let (server, shutdown) = start(app).await;

    for _ in 0..3 {
        let response = within("the response", send(server.addr, get_request("/"))).await;
        assert_eq!(response.unwrap().body(), "answered");
        let (line, publish) = within("the publish", waited.recv()).await.unwrap();
        assert_eq!(publish, Err(Error::Canceled), "lost with the request");
        let seen = reports.seen();
        assert_eq!(seen.len(), 1, "once per place: {seen:?}");
        assert!(seen[0].contains(&place(line)), "{seen:?}");
        assert!(seen[0].contains("already answered"), "{seen:?}");
        assert!(seen[0].contains("without_cancel()"), "{seen:?}");
    }
    shutdown.cancel();
    within("server exit", server.task).await.unwrap().unwrap();
}

/// Hands the request's context out, answering at once.
async fn hand_out(
    State(contexts): State<mpsc::UnboundedSender<Context<'static>>>,
    ctx: Context<'static>,
) -> &'static str {
    contexts.send(ctx).unwrap();
    "answered"
}

#[tokio::test]
async fn work_started_on_an_answered_request_is_reported_at_its_place() {
    let (reports, _subscriber) = Reports::install();
    let (tx, mut contexts) = mpsc::unbounded_channel();
    let app = Router::new().route("/", get(hand_out)).with_state(tx);
    let (server, shutdown) = start(app).await;

    let response = within("the response", send(server.addr, get_request("/"))).await;
    assert_eq!(response.unwrap().body(), "answered");
    let ctx = contexts.recv().await.unwrap();
    assert!(ctx.is_done(), "a read is not a wait, and is never reported");
    assert!(reports.seen().is_empty());

    let (line, started) = (line!(), ctx.done());
    assert_eq!(started.await, Error::Canceled);
    let seen = reports.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(seen[0].contains(&place(line)), "{seen:?}");
    shutdown.cancel();
    within("server exit", server.task).await.unwrap().unwrap();
}

/// What the waiting handler tells the test: that it is running, then how
/// its spawned wait ended.
#[derive(Clone)]
struct Waiting {
    running: mpsc::UnboundedSender<()>,
    waited: mpsc::UnboundedSender<Waited>,
}

/// Spawns a wait on the request's context, then waits on it too: the
/// request ends by its deadline, its client leaving or the server's
/// shutdown, never by its answer.
async fn wait_for_the_end(State(waiting): State<Waiting>, ctx: Context<'static>) -> &'static str {
    let background = ctx.clone();
    tokio::spawn(async move {
        let (line, wait) = (line!(), background.done());
        waiting.waited.send((line, Err(wait.await))).unwrap();
    });
    waiting.running.send(()).unwrap();
    ctx.done().await;
    "ended"
}

/// The waiting handler's app, and what it tells the test.
fn waiting_app() -> (
    Router,
    mpsc::UnboundedReceiver<()>,
    mpsc::UnboundedReceiver<Waited>,
) {
    let (running, running_rx) = mpsc::unbounded_channel();
    let (waited, waited_rx) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/", get(wait_for_the_end))
        .with_state(Waiting { running, waited });
    (app, running_rx, waited_rx)
}

#[tokio::test]
async fn a_request_ended_by_its_deadline_is_not_reported() {
    let (reports, _subscriber) = Reports::install();
    let (app, _running, mut waited) = waiting_app();
    let (server, shutdown) = start(app).await;

    let request = Request::get("/")
        .header(GRPC_TIMEOUT, "20m")
        .body(String::new())
        .unwrap();
    let response = within("the response", send(server.addr, request)).await;
    assert_eq!(response.unwrap().body(), "ended");
    let (_, wait) = within("the wait", waited.recv()).await.unwrap();
    assert_eq!(wait, Err(Error::DeadlineExceeded));
    assert!(reports.seen().is_empty(), "{:?}", reports.seen());
    shutdown.cancel();
    within("server exit", server.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_request_its_client_left_is_not_reported() {
    let (reports, _subscriber) = Reports::install();
    let (app, mut running, mut waited) = waiting_app();
    let (server, shutdown) = start(app).await;

    let left = send_or_leave(server.addr, get_request("/"), async move {
        running.recv().await;
    });
    assert!(within("the client", left).await.unwrap().is_none());
    let (_, wait) = within("the wait", waited.recv()).await.unwrap();
    assert_eq!(wait, Err(Error::Canceled));
    assert!(reports.seen().is_empty(), "{:?}", reports.seen());
    shutdown.cancel();
    within("server exit", server.task).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_request_cut_by_shutdown_is_not_reported() {
    let (reports, _subscriber) = Reports::install();
    let (app, mut running, mut waited) = waiting_app();
    let (root, shutdown) = Context::background().with_cancel_cause();
    let server = serve(app.layer(ContextLayer::new(root.clone())), root)
        .await
        .unwrap();

    let client = tokio::spawn(send(server.addr, get_request("/")));
    within("the handler", running.recv()).await.unwrap();
    shutdown.cancel("server shutting down");
    let (_, wait) = within("the wait", waited.recv()).await.unwrap();
    assert_eq!(wait, Err(Error::Canceled));
    let response = within("the response", client).await.unwrap().unwrap();
    assert_eq!(response.body(), "ended");
    assert!(reports.seen().is_empty(), "{:?}", reports.seen());
    within("server exit", server.task).await.unwrap().unwrap();
}

/// A body streamed under the request's context, each chunk produced by a
/// wait on it.
async fn streamed(ctx: Context<'_>) -> Body {
    Body::from_stream(ctx.stream(|ctx| {
        Box::pin(stream::iter(["a", "b", "c"]).then(move |chunk| {
            let ctx = ctx.clone();
            async move {
                ctx.run(tokio::time::sleep(Duration::from_millis(1)))
                    .await?;
                Ok::<_, Error>(chunk)
            }
        }))
    }))
}

#[tokio::test]
async fn a_streamed_body_that_ends_normally_is_not_reported() {
    let (reports, _subscriber) = Reports::install();
    let app = Router::new().route("/", get(streamed));
    let (server, shutdown) = start(app).await;

    let response = within("the response", send(server.addr, get_request("/"))).await;
    assert_eq!(response.unwrap().body(), "abc");
    assert!(reports.seen().is_empty(), "{:?}", reports.seen());
    shutdown.cancel();
    within("server exit", server.task).await.unwrap().unwrap();
}
