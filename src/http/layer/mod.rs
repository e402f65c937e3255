//! The tower layer that gives every request a context: the layer and its
//! service here, the response future in `future`, the response body and
//! the request in flight it carries in `body`, the request's tracing span
//! in `span`. Imports go one way: from here to those, and from `future` to
//! `body` and `span`.

mod body;
mod future;
mod headers;
mod span;

use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body::Body;
use tokio_util::task::TaskTracker;
use tower::{Layer, Service};

use super::deadline_header::DeadlineHeader;
use super::ids;
use super::incoming::IncomingDeadline;
use super::request_context;
use crate::Context;
use body::InFlightRequest;
use ctx_core::__request::{with_values, RequestEnd};
use headers::IncomingHeaders;
use span::SpanSlot;

pub use body::ResponseBody;
pub use future::ResponseFuture;
#[cfg(feature = "tracing")]
pub use span::RequestSpan;

/// A tower [`Layer`](https://docs.rs/tower/0.5/tower/trait.Layer.html) that
/// gives every request a [`Context`], as Go's `net/http` does.
///
/// Each request's context is a child of the server-wide `root` given to
/// [`new`](ContextLayer::new), so cancelling the root (at shutdown)
/// cancels every request in flight. It ends when the response is done, as
/// Go's ends when `ServeHTTP` returns: once the response body's last frame
/// has been produced (the cause is [`RequestEnded::Responded`](crate::RequestEnded::Responded)), so a body
/// streamed after the head still runs under a live context; or when the
/// request is abandoned before that, because the client went away and the
/// server dropped the handler or the body ([`RequestEnded::Abandoned`](crate::RequestEnded::Abandoned)).
/// Work that must outlive the request detaches from it (`#[detached]` or
/// [`Context::without_cancel`]).
///
/// The context carries a [`TraceId`](super::TraceId) (from an incoming `traceparent`
/// header, or new) and a [`RequestId`](super::RequestId) (from `x-request-id`, or new),
/// which the response echoes in its `x-request-id` header (unless the
/// handler set one). The budget of an incoming deadline header (each
/// [`DeadlineHeader`]: gRPC's, Connect's, Envoy's) becomes its deadline,
/// each honoured unless turned off with [`deadline_header`](ContextLayer::deadline_header), the
/// tightest winning when several come, capped by
/// [`max_timeout`](ContextLayer::max_timeout); a request without one gets
/// the [`default_timeout`](ContextLayer::default_timeout), if set. A
/// malformed one is answered with `400 Bad Request` and a body that says
/// what is wrong, without calling the handler.
///
/// The context is stored in the request's extensions under a type of the
/// crate's own: axum handlers take it as a `ctx: Context<'_>` argument
/// (the `Context` extractor); middleware, tower services and tonic
/// handlers (around `Server::builder().layer(..)`) borrow it from the
/// request with [`RequestContextExt::context`](super::RequestContextExt),
/// for as long as they borrow the request. Middleware inside the layer can
/// replace it with a child carrying more values
/// ([`RequestContextExt::map_context`](super::RequestContextExt::map_context)).
///
/// [`Shutdown::layer`](super::Shutdown::layer) makes one whose requests a
/// graceful shutdown waits for.
///
/// Added with `Router::layer`, as in the first example, the layer is
/// applied to each route by axum, which then clones and boxes per request
/// (any layer added that way does). Put around the whole router instead,
/// as in the second, a request pays for the layer's own work alone (the
/// repository's BENCHMARKS.md measures both).
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use axum::{body::Body, extract::State, routing::get, Router};
/// use ctx::http::ContextLayer;
/// use ctx::Context;
/// use http::Request;
/// use tower::ServiceExt;
///
/// async fn handler(State(ended): State<mpsc::SyncSender<()>>, ctx: Context<'_>) -> &'static str {
///     // Told when the request's context ends.
///     let _registered = ctx.after_func(move || ended.send(()).unwrap());
///     "ok"
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (ended, request_ended) = mpsc::sync_channel(1);
/// let (root, _shutdown) = Context::background().with_cancel();
/// let app = Router::new()
///     .route("/", get(handler))
///     .with_state(ended)
///     .layer(ContextLayer::new(root));
///
/// let response = app.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(response.status(), 200);
/// assert!(response.headers().contains_key("x-request-id"));
/// assert!(request_ended.try_recv().is_err(), "the body is not sent yet");
///
/// axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert_eq!(request_ended.recv_timeout(Duration::from_secs(10)), Ok(()), "ended with the response");
/// # }
/// ```
///
/// Around the router, served by axum (which wants its own body type in
/// responses, so the layer's is boxed into it once):
///
/// ```no_run
/// use axum::{extract::Request, response::IntoResponse, routing::get, Router};
/// use ctx::http::ContextLayer;
/// use tower::{Layer, ServiceExt};
///
/// # #[tokio::main]
/// # async fn main() -> std::io::Result<()> {
/// let (root, _shutdown) = ctx::Context::background().with_cancel();
/// let app = Router::new().route("/", get(|| async { "hi" }));
/// let service = ContextLayer::new(root).layer(app);
/// let service = ServiceExt::<Request>::map_response(service, IntoResponse::into_response);
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
/// axum::serve(listener, axum::ServiceExt::<Request>::into_make_service(service)).await
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ContextLayer {
    root: Context<'static>,
    budget: IncomingDeadline,
    /// The requests in flight, for a graceful shutdown to wait for.
    requests: Option<TaskTracker>,
}

impl ContextLayer {
    /// The default cap on an incoming budget: 5 minutes.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// assert_eq!(ctx::http::ContextLayer::DEFAULT_MAX_TIMEOUT, Duration::from_secs(300));
    /// ```
    pub const DEFAULT_MAX_TIMEOUT: Duration = IncomingDeadline::DEFAULT_MAX;

    /// A layer whose request contexts are children of `root`.
    ///
    /// ```
    /// let (root, _shutdown) = ctx::Context::background().with_cancel();
    /// let layer = ctx::http::ContextLayer::new(root);
    /// ```
    pub fn new(root: Context<'static>) -> ContextLayer {
        ContextLayer {
            root,
            budget: IncomingDeadline::new(),
            requests: None,
        }
    }

    /// Counts each request in `requests` until its response is done.
    pub(super) fn tracking(mut self, requests: TaskTracker) -> ContextLayer {
        self.requests = Some(requests);
        self
    }

    /// Caps the budget an incoming deadline header can give a request (a
    /// larger one is lowered to `max`, as gRPC servers do). Default:
    /// [`DEFAULT_MAX_TIMEOUT`](ContextLayer::DEFAULT_MAX_TIMEOUT).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let layer = ctx::http::ContextLayer::new(ctx::Context::background())
    ///     .max_timeout(Duration::from_secs(30));
    /// ```
    pub fn max_timeout(mut self, max: Duration) -> ContextLayer {
        self.budget = self.budget.max(max);
        self
    }

    /// Whether an incoming `header` sets the request's deadline (`honour`)
    /// or is ignored, malformed or not. Default: every [`DeadlineHeader`]
    /// is honoured.
    ///
    /// ```
    /// use ctx::http::{ContextLayer, DeadlineHeader};
    ///
    /// // Behind a proxy that sets Envoy's header to its own route timeout,
    /// // while callers send their budgets as `grpc-timeout`:
    /// let layer = ContextLayer::new(ctx::Context::background())
    ///     .deadline_header(DeadlineHeader::EnvoyExpectedRqTimeoutMs, false);
    /// ```
    pub fn deadline_header(mut self, header: DeadlineHeader, honour: bool) -> ContextLayer {
        self.budget = self.budget.honour(header, honour);
        self
    }

    /// Gives a request that comes without an honoured deadline header this
    /// budget: its context's deadline is now + `timeout`, as if the client
    /// had sent it. Default: none (such a request has no deadline of its
    /// own).
    ///
    /// ```
    /// use std::time::Duration;
    /// use axum::{body::Body, routing::get, Router};
    /// use ctx::http::ContextLayer;
    /// use ctx::Context;
    /// use http::Request;
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// async fn budget(ctx: Context<'_>) -> String {
    ///     format!("{:?}", ctx.deadline().map(|deadline| deadline - ctx::Instant::now()))
    /// }
    ///
    /// let app = Router::new()
    ///     .route("/", get(budget))
    ///     .layer(ContextLayer::new(Context::background()).default_timeout(Duration::from_secs(2)));
    ///
    /// let response = app.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
    /// let body = axum::body::to_bytes(response.into_body(), 64).await.unwrap();
    /// assert_eq!(body, "Some(2s)");
    /// # }
    /// ```
    pub fn default_timeout(mut self, timeout: Duration) -> ContextLayer {
        self.budget = self.budget.default(timeout);
        self
    }
}

impl<S> Layer<S> for ContextLayer {
    type Service = ContextService<S>;

    fn layer(&self, inner: S) -> ContextService<S> {
        ContextService {
            inner,
            root: self.root.clone(),
            budget: self.budget,
            requests: self.requests.clone(),
        }
    }
}

/// The service made by [`ContextLayer`]; see there.
///
/// ```
/// use ctx::http::{ContextLayer, ContextService};
/// use tower::Layer;
///
/// let service: ContextService<()> = ContextLayer::new(ctx::Context::background()).layer(());
/// ```
#[derive(Clone, Debug)]
pub struct ContextService<S> {
    inner: S,
    root: Context<'static>,
    budget: IncomingDeadline,
    requests: Option<TaskTracker>,
}

impl<S, B, ResBody> Service<Request<B>> for ContextService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let incoming = IncomingHeaders::of(request.headers());
        let (trace_id, request_id) = ids::of_request(incoming.traceparent, incoming.request_id);
        let echoed = request_id.to_header_value();
        let timeout = match self.budget.of(&incoming.deadlines) {
            Ok(timeout) => timeout,
            Err(error) => return ResponseFuture::rejected(&error, echoed),
        };
        let (ctx, in_flight) = self.request_context(timeout);
        // Both ids in one value node: `with_value(trace_id).with_value(request_id)`.
        let ctx = with_values(&ctx, trace_id, request_id);
        let (ctx, span) = SpanSlot::for_request(ctx, &request, trace_id);
        request_context::insert(request.extensions_mut(), ctx);

        #[cfg(feature = "tracing")]
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        #[cfg(not(feature = "tracing"))]
        let future = self.inner.call(request);

        ResponseFuture::running(future, in_flight, echoed, span)
    }
}

impl<S> ContextService<S> {
    /// A request's context under the server's root, with its deadline if
    /// it has a budget, and the request in flight that ends it.
    fn request_context(&self, timeout: Option<Duration>) -> (Context<'static>, InFlightRequest) {
        let (ctx, end) = RequestEnd::derive(&self.root, timeout);
        let tracked = self.requests.as_ref().map(TaskTracker::token);
        (ctx, InFlightRequest::new(end, tracked))
    }
}
