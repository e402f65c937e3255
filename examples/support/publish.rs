//! The story of the crate, runnable: a handler that answers, then publishes
//! to a broker in the background. Shared by the `publish_after_response`
//! example and its integration test.
//!
//! Three servers on loopback: the broker (records every message it
//! receives, acks after a small latency), the service (computes a receipt,
//! publishes it, renders the response) and a load generator whose clients
//! sometimes walk away early. The publisher lingers before sending, like a
//! batching producer (Kafka's `linger.ms`): long enough, sometimes, for the
//! response to be written first. That is the race.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use ctx::http::{inject, ContextLayer, TraceId};
use ctx::{ctx_fn, detached, Context, DetachedTracker};
use tokio::sync::{watch, Notify, Semaphore};

use crate::support::{self, Rng};

/// Which context the handler gives its background publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// The request's own context: the bug. Cancelled when the response is
    /// produced or the client leaves, so a publish still in flight is lost.
    RequestContext,
    /// A fresh `Context::background()`: nothing is lost, but the trace id
    /// (and every other request value) is gone.
    Background,
    /// `#[detached]`: the request's values without its cancellation.
    Detached,
}

impl Variant {
    pub const ALL: [Variant; 3] = [
        Variant::RequestContext,
        Variant::Background,
        Variant::Detached,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Variant::RequestContext => "1. request's ctx (the bug)",
            Variant::Background => "2. Context::background()",
            Variant::Detached => "3. #[detached] (the fix)",
        }
    }
}

/// The knobs of one run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Requests sent per variant.
    pub requests: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Share of clients that leave before their response, at a random point.
    pub disconnect_share: f64,
    /// The typical latency of one step (the handler's work, its rendering,
    /// the publisher's linger, the broker's ack); each is drawn around it.
    pub latency: Duration,
    /// Seed of the per-request randomness (runs are reproducible).
    pub seed: u64,
    /// Test mode: publishers linger until every client has its response,
    /// instead of a random time. Makes the race deterministic: every
    /// publish outlives its response.
    pub gated: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            requests: 200,
            concurrency: 32,
            disconnect_share: 0.2,
            latency: Duration::from_millis(5),
            seed: 7,
            gated: false,
        }
    }
}

/// What one variant did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub requests: usize,
    pub responses: usize,
    pub clients_left: usize,
    /// Publishes the handler started (one per receipt computed).
    pub publishes: usize,
    /// Messages the broker received.
    pub published: usize,
    /// `publishes - published`.
    pub lost: usize,
    /// Received messages whose trace id (as the broker's layer saw it)
    /// is the request's.
    pub traces_kept: usize,
    /// Publish attempts that had not finished when waiting stopped.
    pub unfinished: usize,
}

/// What the broker received: the trace id written in the message by the
/// handler, and the one its own request context carries.
#[derive(Clone, Debug)]
struct Received {
    in_message: String,
    in_context: String,
}

#[derive(Clone)]
struct Broker {
    received: Arc<Mutex<Vec<Received>>>,
    ack_latency: Duration,
}

/// The broker's one endpoint: record, then ack after a small latency.
async fn receive(State(broker): State<Broker>, ctx: Context<'_>, body: String) -> StatusCode {
    let in_message = body.split(' ').next().unwrap_or_default().to_owned();
    let in_context = ctx
        .value::<TraceId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    broker.received.lock().unwrap().push(Received {
        in_message,
        in_context,
    });
    match ctx.run(tokio::time::sleep(broker.ack_latency)).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Publish outcomes, as the service saw them.
#[derive(Default)]
struct Stats {
    started: AtomicUsize,
    finished: AtomicUsize,
    failed: AtomicUsize,
    changed: Notify,
}

/// One publish attempt: counted as finished when dropped, however it ends
/// (done, failed, or cut short by its context).
struct Attempt {
    stats: Arc<Stats>,
    ok: bool,
}

impl Attempt {
    fn start(stats: &Arc<Stats>) -> Attempt {
        Attempt {
            stats: stats.clone(),
            ok: false,
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.ok {
            self.stats.failed.fetch_add(1, Ordering::SeqCst);
        }
        self.stats.finished.fetch_add(1, Ordering::SeqCst);
        self.stats.changed.notify_waiters();
    }
}

impl Stats {
    /// Waits, at most `bound`, until every started publish has finished.
    async fn settled(&self, bound: Duration) -> usize {
        let _ = tokio::time::timeout(bound, async {
            loop {
                let changed = self.changed.notified();
                if self.finished.load(Ordering::SeqCst) >= self.started.load(Ordering::SeqCst) {
                    return;
                }
                changed.await;
            }
        })
        .await;
        self.started.load(Ordering::SeqCst) - self.finished.load(Ordering::SeqCst)
    }
}

#[derive(Clone)]
struct App {
    variant: Variant,
    broker: SocketAddr,
    stats: Arc<Stats>,
    latency: Duration,
    seed: u64,
    gate: Option<watch::Receiver<bool>>,
}

/// The service's error: a context error (the request ended) or a failure.
#[derive(Debug)]
pub enum AppError {
    Ctx(ctx::Error),
}

impl From<ctx::Error> for AppError {
    fn from(error: ctx::Error) -> AppError {
        AppError::Ctx(error)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let AppError::Ctx(error) = self;
        let status = if error.is_timeout() {
            StatusCode::GATEWAY_TIMEOUT
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (status, error.to_string()).into_response()
    }
}

#[derive(Debug)]
pub enum PublishError {
    Ctx(ctx::Error),
    Io(std::io::Error),
    Status(u16),
}

impl From<ctx::Error> for PublishError {
    fn from(error: ctx::Error) -> PublishError {
        PublishError::Ctx(error)
    }
}

/// The axum handler: the context comes from the `ContextLayer`.
async fn order(State(app): State<App>, ctx: Context<'_>, body: String) -> Result<String, AppError> {
    place_order(ctx, app, body).await
}

/// The handler's logic. Every `.await` here is raced against the request's
/// context: a client that leaves stops the work.
#[ctx_fn]
async fn place_order(ctx: Context, app: App, order: String) -> Result<String, AppError> {
    let seq: u64 = order.trim_start_matches("order-").parse().unwrap_or(0);
    let mut rng = Rng::new(app.seed ^ seq.wrapping_mul(0x2545_F491_4F6C_DD1D));
    tokio::time::sleep(app.latency).await; // compute the receipt
    let trace = ctx
        .value::<TraceId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let receipt = format!("{trace} {order}");

    app.stats.started.fetch_add(1, Ordering::SeqCst);
    let linger = app.latency.mul_f64(rng.unit() * 2.0);
    match app.variant {
        Variant::RequestContext => {
            publish_with_request_context(ctx.clone(), app.clone(), receipt.clone(), linger)
        }
        Variant::Background => publish_with_background(app.clone(), receipt.clone(), linger),
        Variant::Detached => {
            // Dropping the handle does not cancel: the work registers with
            // the server's tracker, which waits for it at shutdown.
            drop(publish(ctx.clone(), app.clone(), receipt.clone(), linger));
        }
    }

    tokio::time::sleep(app.latency.mul_f64(rng.unit() * 2.0)).await; // render the response
    Ok(receipt)
}

/// Variant 1, the bug: the publish runs with the request's cancellation.
///
/// Go's `go publish(ctx, msg)` does not compile in ctx: `tokio::spawn` needs
/// `'static`, and the request's `Context<'_>` is bound to the request. The
/// only way to spawn with the request's cancellation is to say so, with
/// `ctx.spawn`, the door for work that should end with the request — which
/// a publish should not.
fn publish_with_request_context(ctx: Context<'_>, app: App, receipt: String, linger: Duration) {
    drop(ctx.spawn(move |ctx| async move {
        let mut attempt = Attempt::start(&app.stats);
        attempt.ok = send_to_broker(&ctx, &app, &receipt, linger).await.is_ok();
    }));
}

/// Variant 2: a fresh root context. Nothing cancels it, and nothing of the
/// request is in it. (Outside `#[ctx_fn]` too: there, `background()` is a
/// compile error.)
fn publish_with_background(app: App, receipt: String, linger: Duration) {
    tokio::spawn(async move {
        let ctx = Context::background();
        let mut attempt = Attempt::start(&app.stats);
        attempt.ok = send_to_broker(&ctx, &app, &receipt, linger).await.is_ok();
    });
}

/// Variant 3, the fix: spawned with the request's values and without its
/// cancellation, tracked for shutdown, with a budget of its own.
#[detached(timeout = "10s")]
async fn publish(
    ctx: Context,
    app: App,
    receipt: String,
    linger: Duration,
) -> Result<(), PublishError> {
    let mut attempt = Attempt::start(&app.stats);
    send_to_broker(&ctx, &app, &receipt, linger).await?;
    attempt.ok = true;
    Ok(())
}

/// Lingers (batching), then POSTs the message with the context's budget
/// and trace id in its headers. Everything is raced against `ctx`.
async fn send_to_broker(
    ctx: &Context<'_>,
    app: &App,
    receipt: &str,
    linger: Duration,
) -> Result<(), PublishError> {
    match app.gate.clone() {
        Some(mut gate) => {
            ctx.run(gate.wait_for(|open| *open)).await?.ok();
        }
        None => ctx.run(tokio::time::sleep(linger)).await?,
    }
    let mut request = http::Request::post("/publish")
        .body(receipt.to_owned())
        .unwrap();
    inject(ctx, request.headers_mut())?;
    let response = ctx
        .run(support::send(app.broker, request))
        .await?
        .map_err(PublishError::Io)?;
    match response.status {
        200 => Ok(()),
        status => Err(PublishError::Status(status)),
    }
}

/// Runs one variant end to end on fresh servers and reports.
pub async fn run_variant(variant: Variant, config: &Config) -> std::io::Result<Report> {
    // The servers' root carries their tracker of detached work.
    let tracker = DetachedTracker::new();
    let (root, shutdown) = Context::background()
        .with_value(tracker.clone())
        .with_cancel();

    let broker = Broker {
        received: Arc::default(),
        ack_latency: config.latency / 2,
    };
    let broker_app = Router::new()
        .route("/publish", post(receive))
        .layer(ContextLayer::new(root.clone()))
        .with_state(broker.clone());
    let broker_server = support::serve(broker_app, root.clone()).await?;

    let stats = Arc::new(Stats::default());
    let (open_gate, gate) = watch::channel(false);
    let app = App {
        variant,
        broker: broker_server.addr,
        stats: stats.clone(),
        latency: config.latency,
        seed: config.seed,
        gate: config.gated.then_some(gate),
    };
    let service = Router::new()
        .route("/order", post(order))
        .layer(ContextLayer::new(root.clone()))
        .with_state(app);
    let server = support::serve(service, root.clone()).await?;

    let (responses, clients_left) = load(server.addr, config).await;
    open_gate.send_replace(true);

    // Shutdown: first the detached work (bounded), then every publish.
    let (bound, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
    tracker.drain(&bound).await;
    let unfinished = stats.settled(Duration::from_secs(10)).await;
    drop(shutdown);
    let _ = server.task.await;
    let _ = broker_server.task.await;

    let received = broker.received.lock().unwrap().clone();
    let publishes = stats.started.load(Ordering::SeqCst);
    Ok(Report {
        requests: config.requests,
        responses,
        clients_left,
        publishes,
        published: received.len(),
        lost: publishes.saturating_sub(received.len()),
        traces_kept: received
            .iter()
            .filter(|r| !r.in_message.is_empty() && r.in_message == r.in_context)
            .count(),
        unfinished,
    })
}

/// The load generator: `requests` POSTs, `concurrency` at a time; a share
/// of clients leave at a random point before their response. Returns
/// (responses received, clients that left).
async fn load(addr: SocketAddr, config: &Config) -> (usize, usize) {
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut clients = Vec::with_capacity(config.requests);
    for seq in 0..config.requests {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let mut rng = Rng::new(config.seed.wrapping_add(seq as u64 + 1));
        let leaves = rng.unit() < config.disconnect_share;
        // Somewhere in the handler's work or rendering.
        let patience = config.latency.mul_f64(rng.unit() * 3.0);
        clients.push(tokio::spawn(async move {
            let _permit = permit;
            let request = http::Request::post("/order")
                .body(format!("order-{seq}"))
                .unwrap();
            let outcome = if leaves {
                support::send_or_leave(addr, request, tokio::time::sleep(patience)).await
            } else {
                support::send(addr, request).await.map(Some)
            };
            match outcome {
                Ok(Some(response)) if response.status == 200 => (1, 0),
                Ok(None) => (0, 1),
                _ => (0, 0),
            }
        }));
    }
    let mut totals = (0, 0);
    for client in clients {
        let (ok, left) = client.await.unwrap();
        totals.0 += ok;
        totals.1 += left;
    }
    totals
}

/// The table's header line.
pub fn header() -> String {
    format!(
        "{:<28} {:>8} {:>9} {:>11} {:>9} {:>9} {:>5} {:>14}",
        "variant",
        "requests",
        "responses",
        "client left",
        "publishes",
        "published",
        "lost",
        "trace ids kept"
    )
}

/// One variant's line of the table.
pub fn row(variant: Variant, r: &Report) -> String {
    format!(
        "{:<28} {:>8} {:>9} {:>11} {:>9} {:>9} {:>5} {:>14}",
        variant.label(),
        r.requests,
        r.responses,
        r.clients_left,
        r.publishes,
        r.published,
        r.lost,
        format!("{}/{}", r.traces_kept, r.published),
    )
}
