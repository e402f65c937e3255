//! The tower layer that gives every request a context.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::Body;
use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;
use tower::{Layer, Service};

use super::body::ResponseBody;
use super::deadline_header::{DeadlineHeader, DeadlineHeaderError};
use super::ids::{RequestId, TraceId, REQUEST_ID, TRACEPARENT};
use super::incoming::{bad_request, IncomingDeadline, RejectionBody};
use super::request_context;
use crate::{CancelCauseHandle, Context, RequestEnded};

/// A tower [`Layer`](https://docs.rs/tower/0.5/tower/trait.Layer.html) that
/// gives every request a [`Context`], as Go's `net/http` does.
///
/// Each request's context is a child of the server-wide `root` given to
/// [`new`](ContextLayer::new), so cancelling the root (at shutdown)
/// cancels every request in flight. It ends when the response is done, as
/// Go's ends when `ServeHTTP` returns: once the response body's last frame
/// has been produced (the cause is [`RequestEnded::Responded`]), so a body
/// streamed after the head still runs under a live context; or when the
/// request is abandoned before that, because the client went away and the
/// server dropped the handler or the body ([`RequestEnded::Abandoned`]).
/// Work that must outlive the request detaches from it (`#[detached]` or
/// [`Context::without_cancel`]).
///
/// The context carries a [`TraceId`] (from an incoming `traceparent`
/// header, or new) and a [`RequestId`] (from `x-request-id`, or new),
/// which the response echoes in its `x-request-id` header (unless the
/// handler set one). The budget of an incoming deadline header becomes
/// its deadline: gRPC's `grpc-timeout`, Connect's `Connect-Timeout-Ms` or
/// Envoy's `x-envoy-expected-rq-timeout-ms`, each honoured unless turned
/// off with [`deadline_header`](ContextLayer::deadline_header), the
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

/// The tracing span the [`ContextLayer`] opened for a request (feature
/// `tracing`), stored in the request's context so that work detached from
/// the request can re-enter it.
///
/// ```
/// use ctx::http::RequestSpan;
///
/// # fn detached_work(ctx: ctx::Context) {
/// let span = ctx.value::<RequestSpan>().map_or_else(tracing::Span::none, |s| s.0.clone());
/// let _entered = span.enter();
/// # }
/// ```
#[cfg(feature = "tracing")]
#[derive(Clone, Debug)]
pub struct RequestSpan(pub tracing::Span);

impl<S, B, ResBody> Service<Request<B>> for ContextService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    ResBody: Body + RejectionBody,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let (trace_id, request_id) = request_ids(request.headers());
        // A request id is made of visible ASCII (`RequestId` checks it).
        let echoed = HeaderValue::from_str(request_id.as_str()).ok();
        let timeout = match self.budget.of(request.headers()) {
            Ok(timeout) => timeout,
            Err(error) => return ResponseFuture::rejected(&error, echoed),
        };
        let (ctx, guard) = self.request_context(timeout);
        let ctx = ctx.with_value(trace_id).with_value(request_id);
        let (ctx, span) = SpanSlot::for_request(ctx, &request, trace_id);
        request_context::insert(request.extensions_mut(), ctx);

        #[cfg(feature = "tracing")]
        let future = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        #[cfg(not(feature = "tracing"))]
        let future = self.inner.call(request);

        ResponseFuture {
            state: State::Running {
                future,
                guard: Some(guard),
                echoed,
                span,
            },
        }
    }
}

impl<S> ContextService<S> {
    /// A request's context under the server's root, with its deadline if
    /// it has a budget, and the guard that ends it.
    fn request_context(&self, timeout: Option<Duration>) -> (Context<'static>, Guard) {
        let (ctx, cancel) = self.root.with_cancel_cause();
        // The deadline's own end is its timer; the guard ends its parent.
        let ctx = match timeout {
            Some(timeout) => ctx.with_timeout(timeout).0,
            None => ctx,
        };
        let guard = Guard {
            cancel: Some(cancel),
            _in_flight: self.requests.as_ref().map(TaskTracker::token),
        };
        (ctx, guard)
    }
}

/// The trace and request ids a request carries, or new ones where it
/// carries none (or a malformed one).
fn request_ids(headers: &HeaderMap) -> (TraceId, RequestId) {
    let trace_id = headers
        .get(TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .and_then(TraceId::parse_traceparent)
        .unwrap_or_else(TraceId::generate);
    let request_id = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::from_header)
        .unwrap_or_else(RequestId::generate);
    (trace_id, request_id)
}

/// Echoes the request id on `response`, unless the handler set one.
fn echo<B>(response: &mut Response<B>, request_id: Option<HeaderValue>) {
    if let Some(request_id) = request_id {
        response
            .headers_mut()
            .entry(REQUEST_ID)
            .or_insert(request_id);
    }
}

/// The request's tracing span (feature `tracing`); nothing without it.
pub(super) struct SpanSlot {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl SpanSlot {
    /// The request's span, opened here and recorded in its context as a
    /// `RequestSpan` (feature `tracing`); nothing without the feature.
    fn for_request<B>(
        ctx: Context<'static>,
        request: &Request<B>,
        trace_id: TraceId,
    ) -> (Context<'static>, SpanSlot) {
        #[cfg(feature = "tracing")]
        {
            let span = tracing::info_span!(
                "request",
                method = %request.method(),
                uri = %request.uri(),
                trace_id = %trace_id,
            );
            (ctx.with_value(RequestSpan(span.clone())), SpanSlot { span })
        }
        #[cfg(not(feature = "tracing"))]
        {
            let _ = (request, trace_id);
            (ctx, SpanSlot::none())
        }
    }

    /// No span: that of a response the layer answered itself.
    pub(super) fn none() -> SpanSlot {
        SpanSlot {
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
        }
    }

    #[cfg(feature = "tracing")]
    pub(super) fn enter(&self) -> tracing::span::Entered<'_> {
        self.span.enter()
    }
}

/// The end of a request's context: cancels it, with
/// [`RequestEnded::Abandoned`] when dropped unless [`end`](Guard::end)
/// said otherwise first. Also holds the request's place among the
/// requests in flight, released with it.
pub(super) struct Guard {
    /// `None` once the request's context is ended.
    cancel: Option<CancelCauseHandle>,
    _in_flight: Option<TaskTrackerToken>,
}

impl Guard {
    /// Ends the request's context, saying why.
    pub(super) fn end(mut self, why: RequestEnded) {
        self.end_once(why);
    }

    /// Ends the request's context, unless it was ended already: a cause is
    /// built (two allocations) for the one cancellation that counts.
    fn end_once(&mut self, why: RequestEnded) {
        if let Some(cancel) = self.cancel.take() {
            cancel.cancel(why);
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.end_once(RequestEnded::Abandoned);
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ContextService`]: the handler's future,
    /// owning the end of the request's context. Its response's body
    /// ([`ResponseBody`]) takes it over; dropped before the response, it
    /// cancels the context ([`RequestEnded::Abandoned`]).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use ctx::http::{ContextLayer, ResponseBody, ResponseFuture};
    /// use http::{Request, Response};
    /// use tower::{service_fn, Layer, Service};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let inner = service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::from("ok"))) });
    /// let mut service = ContextLayer::new(ctx::Context::background()).layer(inner);
    /// let future: ResponseFuture<_, String> = service.call(Request::new(()));
    /// let response: Response<ResponseBody<String>> = future.await.unwrap();
    /// assert!(response.headers().contains_key("x-request-id"));
    /// # }
    /// ```
    pub struct ResponseFuture<F, ResBody> {
        #[pin]
        state: State<F, ResBody>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<F, ResBody> {
        Running {
            #[pin]
            future: F,
            guard: Option<Guard>,
            echoed: Option<HeaderValue>,
            span: SpanSlot,
        },
        Rejected {
            response: Option<Response<ResponseBody<ResBody>>>,
        },
    }
}

impl<F, ResBody: RejectionBody> ResponseFuture<F, ResBody> {
    /// The layer's own answer to a request it refused (a malformed deadline
    /// header): a 400 saying why, with the request id echoed.
    fn rejected(error: &DeadlineHeaderError, echoed: Option<HeaderValue>) -> Self {
        let mut response = bad_request::<ResBody>(error);
        echo(&mut response, echoed);
        ResponseFuture {
            state: State::Rejected {
                response: Some(response.map(ResponseBody::without_context)),
            },
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Body,
{
    type Output = Result<Response<ResponseBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Running {
                future,
                guard,
                echoed,
                span,
            } => {
                let output = {
                    #[cfg(feature = "tracing")]
                    let _entered = span.enter();
                    ready!(future.poll(cx))
                };
                let guard = guard
                    .take()
                    .expect("ResponseFuture polled after completion");
                Poll::Ready(output.map(|mut response| {
                    echo(&mut response, echoed.take());
                    // The body takes over the end of the context.
                    let span = std::mem::replace(span, SpanSlot::none());
                    response.map(|body| ResponseBody::new(body, guard, span))
                }))
            }
            StateProj::Rejected { response } => Poll::Ready(Ok(response
                .take()
                .expect("ResponseFuture polled after completion"))),
        }
    }
}

impl<F, ResBody> fmt::Debug for ResponseFuture<F, ResBody> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
