//! `ctx::http::Shutdown` over real sockets: requests in flight finish
//! within the grace period, what outlasts it is cancelled saying so,
//! detached work is drained, and the report says what was cut off. Then
//! the same under load: no accepted request errs, no publish is lost.
//! Synchronization is by channels; the timeouts only bound a failing test.

use std::future::Future;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use ctx::http::{RequestEnded, ServerShutdown, Shutdown, ShutdownReport};
use ctx::{detached, Context, Error};
use ctx_examples_support::{send, shutdown_load};
use http::StatusCode;
use tokio::sync::{mpsc, oneshot};

/// Bounds a step that must happen; only a broken test waits this long.
const BOUND: Duration = Duration::from_secs(30);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// A server whose one handler hands its context to the test, then runs
/// `handler` on it; and the signal that shuts it down.
struct Running {
    addr: std::net::SocketAddr,
    contexts: mpsc::UnboundedReceiver<Context<'static>>,
    signal: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<ShutdownReport>>,
}

async fn start<F, Fut>(shutdown: Shutdown, handler: F) -> Running
where
    F: Fn(Context<'static>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = (StatusCode, String)> + Send + 'static,
{
    let (tx, contexts) = mpsc::unbounded_channel();
    let route = move |ctx: Context<'static>| {
        tx.send(ctx.clone()).unwrap();
        handler(ctx)
    };
    let app = Router::new().route("/", get(route)).layer(shutdown.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (signal, signalled) = oneshot::channel::<()>();
    let server = tokio::spawn(
        shutdown.serve_with_signal(axum::serve(listener, app), async {
            let _ = signalled.await;
        }),
    );
    Running {
        addr,
        contexts,
        signal: Some(signal),
        server,
    }
}

type Client = tokio::task::JoinHandle<std::io::Result<http::Response<String>>>;

impl Running {
    /// Sends a request; returns its client once the handler has its
    /// context.
    async fn request(&mut self) -> (Client, Context<'static>) {
        let request = http::Request::get("/").body(String::new()).unwrap();
        let client = tokio::spawn(send(self.addr, request));
        let ctx = within("the handler", self.contexts.recv()).await.unwrap();
        (client, ctx)
    }

    /// Sends the shutdown signal.
    fn signal(&mut self) {
        self.signal.take().unwrap().send(()).unwrap();
    }

    /// Waits for the shutdown's report.
    async fn report(self) -> ShutdownReport {
        within("the shutdown", self.server).await.unwrap().unwrap()
    }
}

/// The report's counts of requests: in flight at the signal, cancelled,
/// unfinished.
fn requests(report: &ShutdownReport) -> (usize, usize, usize) {
    (report.in_flight, report.cancelled, report.unfinished)
}

#[tokio::test]
async fn a_request_in_flight_at_the_signal_finishes_under_a_live_context() {
    let (finish, finished) = mpsc::unbounded_channel::<()>();
    let finished = std::sync::Arc::new(tokio::sync::Mutex::new(finished));
    let mut running = start(Shutdown::new(), move |ctx: Context<'static>| {
        let finished = finished.clone();
        async move {
            finished.lock().await.recv().await;
            (StatusCode::OK, format!("{:?}", ctx.err()))
        }
    })
    .await;
    let (client, ctx) = running.request().await;

    running.signal();
    // The shutdown has begun: the server no longer accepts...
    within("the listener to close", async {
        while tokio::net::TcpStream::connect(running.addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    // ...and the request in flight is still live; it finishes normally.
    assert_eq!(ctx.err(), None);
    finish.send(()).unwrap();
    let response = within("the response", client).await.unwrap().unwrap();
    assert_eq!(
        (response.status().as_u16(), response.body().as_str()),
        (200, "None")
    );
    let cause = ctx.cause().unwrap();
    assert_eq!(
        cause.downcast_ref::<RequestEnded>(),
        Some(&RequestEnded::Responded)
    );

    let report = running.report().await;
    assert_eq!(requests(&report), (1, 0, 0));
    assert!(report.is_clean(), "{report}");
}

#[tokio::test]
async fn requests_outlasting_the_grace_period_are_cancelled_saying_so() {
    let shutdown = Shutdown::new()
        .grace(Duration::from_millis(50))
        .drain(BOUND);
    let root = shutdown.root().clone();
    let mut running = start(shutdown, |ctx: Context<'static>| async move {
        ctx.done().await;
        let cause = ctx.cause().unwrap();
        (StatusCode::SERVICE_UNAVAILABLE, cause.to_string())
    })
    .await;
    let (client, ctx) = running.request().await;
    running.signal();

    let response = within("the response", client).await.unwrap().unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.body(),
        "server shutdown: 1 requests still running after the 50ms grace period were cancelled"
    );
    let cause = ctx.cause().unwrap();
    assert_eq!(
        cause.downcast_ref::<ServerShutdown>(),
        Some(&ServerShutdown {
            grace: Duration::from_millis(50),
            cancelled: 1
        })
    );
    assert_eq!(
        root.err(),
        Some(Error::Canceled),
        "the root is cancelled too"
    );

    let report = running.report().await;
    assert_eq!(requests(&report), (1, 1, 0));
    assert!(!report.is_clean());
}

#[detached]
async fn publish_slowly(ctx: Context, gate: oneshot::Receiver<()>) -> Result<(), Error> {
    let _ = gate.await;
    Ok(())
}

#[tokio::test]
async fn detached_work_is_drained_and_what_outlasts_the_drain_is_reported() {
    // A handler that ignores its cancellation, and detached work that
    // outlasts the drain.
    let shutdown = Shutdown::new()
        .grace(Duration::from_millis(20))
        .drain(Duration::from_millis(50));
    let (_never_opened, gate) = oneshot::channel();
    let gate = std::sync::Arc::new(std::sync::Mutex::new(Some(gate)));
    let mut running = start(shutdown, move |ctx: Context<'static>| {
        let gate = gate.lock().unwrap().take().unwrap();
        publish_slowly(ctx, gate);
        std::future::pending()
    })
    .await;
    let _client = running.request().await;
    running.signal();

    let report = running.report().await;
    assert_eq!(requests(&report), (1, 1, 1));
    assert_eq!((report.detached.finished, report.detached.running), (0, 1));
}

/// Go's `Server.Shutdown` contract under load, on loopback: the signal
/// comes mid-load; every request the server accepted is answered `200`
/// (none is cut short by the shutdown), and every publish they started
/// completes before `serve` returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_load_errs_no_accepted_request_and_loses_no_publish() {
    let config = shutdown_load::Config {
        requests: 400,
        concurrency: 32,
        signal_after: 150,
        ..shutdown_load::Config::default()
    };
    let outcome = within("the load", shutdown_load::run(&config))
        .await
        .unwrap();
    assert_eq!(outcome.error_responses, 0, "{outcome:#?}");
    assert_eq!(outcome.lost, 0, "{outcome:#?}");
    assert!(outcome.ok >= 150, "{outcome:#?}");
    assert_eq!(outcome.ok + outcome.not_served, 400, "{outcome:#?}");
    assert_eq!(outcome.publishes, outcome.ok, "{outcome:#?}");
    assert!(outcome.report.is_clean(), "{outcome:#?}");
    assert_eq!(outcome.report.detached.finished, outcome.publishes);
}
