//! The story of the crate, runnable: a handler that answers, then publishes
//! to a broker in the background. Run by the `publish_after_response`
//! example and its integration test.
//!
//! Two servers on loopback, the service (computes a receipt, publishes it,
//! renders the response) and, unless a Redis is given, the broker (records
//! every message it receives, acks after a small latency); and a load
//! generator whose clients sometimes walk away early. The publisher
//! lingers before sending, like a batching producer (Kafka's `linger.ms`):
//! long enough, sometimes, for the response to be written first. That is
//! the race.
//!
//! ```no_run
//! use ctx_examples_support::publish::{run_variant, Config, Variant};
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! let report = run_variant(Variant::Detached, &Config::default()).await?;
//! assert_eq!(report.lost, 0);
//! # Ok(())
//! # }
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use ctx::http::{ContextLayer, TraceId};
use ctx::{ctx_fn, detached, Context, DetachedTracker};
use tokio::sync::watch;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

use crate::broker::{self, Broker, PublishError};
use crate::load::load;
use crate::server::serve;

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
    /// The three, in the order the demo runs them.
    pub const ALL: [Variant; 3] = [
        Variant::RequestContext,
        Variant::Background,
        Variant::Detached,
    ];
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
    /// The Redis to publish to (a `redis://` URL); `None` for the broker
    /// on loopback.
    pub redis: Option<String>,
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
            redis: None,
        }
    }
}

/// What one variant did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Requests sent.
    pub requests: usize,
    /// Clients that got their response.
    pub responses: usize,
    /// Clients that left before their response.
    pub clients_left: usize,
    /// Publishes the handler started (one per receipt computed).
    pub publishes: usize,
    /// Messages the broker received.
    pub published: usize,
    /// `publishes - published`.
    pub lost: usize,
    /// Received messages that reached the broker with their request's
    /// trace id.
    pub traces_kept: usize,
    /// Publishes that had not finished when waiting for them stopped.
    pub unfinished: usize,
}

/// Which end of a request draws from [`request_rng`].
#[derive(Clone, Copy)]
pub(crate) enum Side {
    Client,
    Handler,
}

/// Request `seq`'s randomness: a stream for its client and another for its
/// handler, both reproducible from the run's seed.
pub(crate) fn request_rng(seed: u64, seq: u64, side: Side) -> fastrand::Rng {
    fastrand::Rng::with_seed(seed.wrapping_add(2 * seq + side as u64))
}

#[derive(Clone)]
struct App {
    variant: Variant,
    broker: Broker,
    /// Publishes started.
    publishes: Arc<AtomicUsize>,
    /// Every publish in flight, however it was spawned, so shutdown can
    /// wait for them.
    in_flight: TaskTracker,
    latency: Duration,
    seed: u64,
    gate: Option<watch::Receiver<bool>>,
}

/// A message on its way to the broker: tracked as in flight until dropped,
/// however its publish ends.
struct Message {
    receipt: String,
    linger: Linger,
    _in_flight: TaskTrackerToken,
}

/// How long a publisher waits before sending (batching).
enum Linger {
    For(Duration),
    /// Test mode: until every client has its response.
    UntilOpen(watch::Receiver<bool>),
}

/// The axum handler: the context comes from the `ContextLayer`; a context
/// that ended answers 503 (504 for a deadline), `ctx::Error`'s response.
async fn order(
    State(app): State<App>,
    ctx: Context<'_>,
    body: String,
) -> Result<String, ctx::Error> {
    place_order(ctx, app, body).await
}

/// The handler's logic. Every `.await` here is raced against the request's
/// context: a client that leaves stops the work.
#[ctx_fn]
async fn place_order(ctx: Context, app: App, order: String) -> Result<String, ctx::Error> {
    let seq: u64 = order.trim_start_matches("order-").parse().unwrap_or(0);
    let mut rng = request_rng(app.seed, seq, Side::Handler);
    tokio::time::sleep(app.latency).await; // compute the receipt
    let trace = ctx
        .value::<TraceId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let receipt = format!("{trace} {order}");

    app.publishes.fetch_add(1, Ordering::SeqCst);
    let message = Message {
        receipt: receipt.clone(),
        linger: match &app.gate {
            Some(gate) => Linger::UntilOpen(gate.clone()),
            None => Linger::For(app.latency.mul_f64(rng.f64() * 2.0)),
        },
        _in_flight: app.in_flight.token(),
    };
    match app.variant {
        Variant::RequestContext => {
            publish_with_request_context(ctx.clone(), app.broker.clone(), message)
        }
        Variant::Background => publish_with_background(app.broker.clone(), message),
        Variant::Detached => {
            // Dropping the handle does not cancel: the work registers with
            // the server's tracker, which waits for it at shutdown.
            drop(publish(ctx.clone(), app.broker.clone(), message));
        }
    }

    tokio::time::sleep(app.latency.mul_f64(rng.f64() * 2.0)).await; // render the response
    Ok(receipt)
}

/// Variant 1, the bug: the publish runs with the request's cancellation.
///
/// Go's `go publish(ctx, msg)` does not compile in ctx: `tokio::spawn` needs
/// `'static`, and the request's `Context<'_>` is bound to the request. The
/// only way to spawn with the request's cancellation is to say so, with
/// `ctx.spawn`, the door for work that should end with the request — which
/// a publish should not.
fn publish_with_request_context(ctx: Context<'_>, broker: Broker, message: Message) {
    drop(ctx.spawn(move |ctx| {
        Box::pin(async move {
            let _ = deliver(&ctx, &broker, message).await;
        })
    }));
}

/// Variant 2: a fresh root context. Nothing cancels it, and nothing of the
/// request is in it. (Outside `#[ctx_fn]` too: there, `background()` is a
/// compile error.)
fn publish_with_background(broker: Broker, message: Message) {
    tokio::spawn(async move {
        let _ = deliver(&Context::background(), &broker, message).await;
    });
}

/// Variant 3, the fix: spawned with the request's values and without its
/// cancellation, tracked for shutdown, with a budget of its own.
#[detached(timeout = "10s")]
async fn publish(ctx: Context, broker: Broker, message: Message) -> Result<(), PublishError> {
    deliver(&ctx, &broker, message).await
}

/// Lingers (batching), then hands the message to the broker. Everything is
/// raced against `ctx`.
async fn deliver(ctx: &Context<'_>, broker: &Broker, message: Message) -> Result<(), PublishError> {
    match message.linger {
        Linger::For(linger) => ctx.run(tokio::time::sleep(linger)).await?,
        Linger::UntilOpen(mut gate) => {
            // Err only if the gate's sender is gone: then nothing waits.
            let _ = ctx.run(gate.wait_for(|open| *open)).await?;
        }
    }
    broker.send(ctx, &message.receipt).await
}

/// Runs one variant end to end on fresh servers and reports.
pub async fn run_variant(variant: Variant, config: &Config) -> std::io::Result<Report> {
    // The servers' root carries their tracker of detached work.
    let detached = DetachedTracker::new();
    let (root, shutdown) = Context::background()
        .with_value(detached.clone())
        .with_cancel();
    let (broker, inbox) = broker::start(config.redis.as_deref(), &root, config.latency / 2).await?;

    let publishes = Arc::new(AtomicUsize::new(0));
    let in_flight = TaskTracker::new();
    let (open_gate, gate) = watch::channel(false);
    let app = App {
        variant,
        broker,
        publishes: publishes.clone(),
        in_flight: in_flight.clone(),
        latency: config.latency,
        seed: config.seed,
        gate: config.gated.then_some(gate),
    };
    let service = Router::new()
        .route("/order", post(order))
        .layer(ContextLayer::new(root.clone()))
        .with_state(app);
    let server = serve(service, root.clone()).await?;

    let clients = load(server.addr, config).await;
    open_gate.send_replace(true);

    // Shutdown: first the detached work (bounded), then every publish.
    let (bound, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
    detached.drain(&bound).await;
    in_flight.close();
    let _ = bound.run(in_flight.wait()).await;
    let unfinished = in_flight.len();
    shutdown.cancel();
    server.task.await??;

    let received = inbox.received().await?;
    let publishes = publishes.load(Ordering::SeqCst);
    Ok(Report {
        requests: config.requests,
        responses: clients.responses,
        clients_left: clients.clients_left,
        publishes,
        published: received.len(),
        lost: publishes.saturating_sub(received.len()),
        traces_kept: received.iter().filter(|r| r.trace_kept()).count(),
        unfinished,
    })
}
