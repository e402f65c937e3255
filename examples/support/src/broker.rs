//! The broker the demo publishes to: an HTTP endpoint on loopback by
//! default, so the demo needs nothing installed, or a real Redis (feature
//! `redis`, see `redis_stream.rs`).
//!
//! Either way a message carries its receipt, and the trace id of the
//! context it was published with travels beside it, as a Kafka producer
//! puts it in a header: the `traceparent` header of the HTTP request, or a
//! `traceparent` field of the stream entry. The broker's side reads it back
//! (the HTTP endpoint's own request context, the entry's field), which is
//! what the demo's "trace ids kept" column counts.

use std::error::Error;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use ctx::http::{inject, ContextLayer, TraceId};
use ctx::Context;

#[cfg(feature = "redis")]
use crate::redis_stream::Stream;
use crate::send;
use crate::server::{serve, Server};

/// Why a publish failed: the context ended, the broker is unreachable, or
/// it refused the message.
pub(crate) type PublishError = Box<dyn Error + Send + Sync>;

/// The sending side: cheap to clone, one per publisher.
#[derive(Clone)]
pub(crate) enum Broker {
    /// The HTTP endpoint at this address.
    InProcess(SocketAddr),
    /// A Redis stream.
    #[cfg(feature = "redis")]
    Redis(Stream),
}

/// The receiving side: what reached the broker, read once publishing is
/// over.
pub(crate) enum Inbox {
    InProcess {
        received: Arc<Mutex<Vec<Received>>>,
        server: Server,
    },
    #[cfg(feature = "redis")]
    Redis(Stream),
}

/// One message, as the broker received it.
#[derive(Clone, Debug)]
pub(crate) struct Received {
    /// The trace id the handler wrote into the receipt.
    in_message: String,
    /// The trace id that travelled beside the message, if any.
    in_context: Option<String>,
}

impl Received {
    pub(crate) fn new(receipt: &str, in_context: Option<&TraceId>) -> Received {
        Received {
            in_message: receipt.split(' ').next().unwrap_or_default().to_owned(),
            in_context: in_context.map(ToString::to_string),
        }
    }

    /// Whether the message reached the broker with its request's trace id.
    pub(crate) fn trace_kept(&self) -> bool {
        !self.in_message.is_empty() && self.in_context.as_ref() == Some(&self.in_message)
    }
}

/// Starts a broker: the Redis at `redis` (a `redis://` URL), or else an
/// HTTP endpoint on loopback that acks after `ack_latency` and stops with
/// `root`.
pub(crate) async fn start(
    redis: Option<&str>,
    root: &Context<'static>,
    ack_latency: Duration,
) -> io::Result<(Broker, Inbox)> {
    let Some(url) = redis else {
        let received = Arc::<Mutex<Vec<Received>>>::default();
        let app = Router::new()
            .route("/publish", post(receive))
            .layer(ContextLayer::new(root.clone()))
            .with_state((received.clone(), ack_latency));
        let server = serve(app, root.clone()).await?;
        return Ok((
            Broker::InProcess(server.addr),
            Inbox::InProcess { received, server },
        ));
    };
    #[cfg(feature = "redis")]
    {
        let stream = Stream::connect(url).await?;
        Ok((Broker::Redis(stream.clone()), Inbox::Redis(stream)))
    }
    #[cfg(not(feature = "redis"))]
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!("cannot publish to {url}: built without the Redis client (add `--features ctx-examples-support/redis`)"),
    ))
}

/// The HTTP broker's one endpoint: record, then ack after a small latency.
async fn receive(
    State((received, ack_latency)): State<(Arc<Mutex<Vec<Received>>>, Duration)>,
    ctx: Context<'_>,
    receipt: String,
) -> StatusCode {
    let message = Received::new(&receipt, ctx.value::<TraceId>());
    received.lock().unwrap().push(message);
    match ctx.run(tokio::time::sleep(ack_latency)).await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::SERVICE_UNAVAILABLE,
    }
}

impl Broker {
    /// Publishes `receipt` with `ctx`'s trace id beside it; raced against
    /// `ctx`, whose remaining budget the HTTP broker also receives.
    pub(crate) async fn send(&self, ctx: &Context<'_>, receipt: &str) -> Result<(), PublishError> {
        match self {
            Broker::InProcess(addr) => {
                let mut request = http::Request::post("/publish").body(receipt.to_owned())?;
                inject(ctx, request.headers_mut())?;
                let response = ctx.run(send(*addr, request)).await??;
                match response.status() {
                    StatusCode::OK => Ok(()),
                    status => Err(format!("the broker answered {status}").into()),
                }
            }
            #[cfg(feature = "redis")]
            Broker::Redis(stream) => stream.send(ctx, receipt).await,
        }
    }
}

impl Inbox {
    /// Every message the broker received. Call it once the broker's root
    /// context is done: the HTTP broker has then finished every request.
    pub(crate) async fn received(self) -> io::Result<Vec<Received>> {
        match self {
            Inbox::InProcess { received, server } => {
                server.task.await??;
                let received = received.lock().unwrap();
                Ok(received.clone())
            }
            #[cfg(feature = "redis")]
            Inbox::Redis(stream) => stream.received().await,
        }
    }
}
