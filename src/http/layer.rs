//! The tower layer that gives every request a context.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};
use std::time::Duration;

use http::{header, HeaderValue, Request, Response, StatusCode};
use tower::{Layer, Service};

use super::grpc_timeout::{parse_grpc_timeout, GRPC_TIMEOUT};
use super::ids::{RequestId, TraceId, REQUEST_ID, TRACEPARENT};
use crate::{CancelCauseHandle, CancelHandle, Context};

/// A tower [`Layer`] that gives every request a [`Context`], as Go's
/// `net/http` does.
///
/// Each request's context is a child of the server-wide `root` given to
/// [`new`](ContextLayer::new), so cancelling the root (at shutdown)
/// cancels every request in flight. It is cancelled when the handler has
/// produced its response (the cause is [`RequestEnded::Responded`]) or when
/// the request is abandoned before that, because the client went away and
/// the server dropped the handler ([`RequestEnded::Abandoned`]). Work that
/// must outlive the request detaches from it (`#[detached]` or
/// [`Context::without_cancel`]).
///
/// The context carries a [`TraceId`] (from an incoming `traceparent`
/// header, or new) and a [`RequestId`] (from `x-request-id`, or new). An
/// incoming `grpc-timeout` header becomes its deadline, capped by
/// [`max_timeout`](ContextLayer::max_timeout); a malformed one is answered
/// with `400 Bad Request` and a body that says what is wrong, without
/// calling the handler.
///
/// The context is stored in the request's extensions: axum handlers take
/// it as a `ctx: Context` argument (the `Context` extractor), or as
/// `Extension<Context<'static>>`.
///
/// ```
/// use axum::{body::Body, routing::get, Router};
/// use ctx::http::{ContextLayer, RequestEnded};
/// use ctx::Context;
/// use http::Request;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
/// let handler = move |ctx: Context<'static>| async move {
///     // Keep a clone: the request's context ends when the handler returns.
///     tx.send(ctx.clone()).unwrap();
///     assert!(!ctx.is_done());
///     "ok"
/// };
/// let (root, _shutdown) = Context::background().with_cancel();
/// let app = Router::new().route("/", get(handler)).layer(ContextLayer::new(root));
///
/// let response = app.oneshot(Request::get("/").body(Body::empty()).unwrap()).await.unwrap();
/// assert_eq!(response.status(), 200);
/// let ctx = rx.recv().await.unwrap();
/// assert!(ctx.is_done(), "cancelled once the response was produced");
/// let cause = ctx.cause().unwrap();
/// assert_eq!(cause.downcast_ref::<RequestEnded>(), Some(&RequestEnded::Responded));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ContextLayer {
    root: Context<'static>,
    max_timeout: Duration,
}

impl ContextLayer {
    /// The default cap on an incoming `grpc-timeout`: 5 minutes.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// assert_eq!(ctx::http::ContextLayer::DEFAULT_MAX_TIMEOUT, Duration::from_secs(300));
    /// ```
    pub const DEFAULT_MAX_TIMEOUT: Duration = Duration::from_secs(300);

    /// A layer whose request contexts are children of `root`.
    ///
    /// ```
    /// let (root, _shutdown) = ctx::Context::background().with_cancel();
    /// let layer = ctx::http::ContextLayer::new(root);
    /// ```
    pub fn new(root: Context<'static>) -> ContextLayer {
        ContextLayer {
            root,
            max_timeout: Self::DEFAULT_MAX_TIMEOUT,
        }
    }

    /// Caps the budget an incoming `grpc-timeout` can give a request (a
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
        self.max_timeout = max;
        self
    }
}

impl<S> Layer<S> for ContextLayer {
    type Service = ContextService<S>;

    fn layer(&self, inner: S) -> ContextService<S> {
        ContextService {
            inner,
            root: self.root.clone(),
            max_timeout: self.max_timeout,
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
    max_timeout: Duration,
}

/// Why a request's context was cancelled by the [`ContextLayer`]: its
/// [`cause`](Context::cause), which code can downcast to tell a finished
/// request from an abandoned one.
///
/// ```
/// use ctx::http::RequestEnded;
///
/// assert_eq!(RequestEnded::Responded.to_string(), "request finished: the handler produced its response");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestEnded {
    /// The handler produced its response (Go: `ServeHTTP` returned).
    Responded,
    /// The request was dropped before its response: the client went away
    /// (the server drops the handler when the connection closes) or the
    /// server gave up on the connection.
    Abandoned,
}

impl fmt::Display for RequestEnded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestEnded::Responded => "request finished: the handler produced its response",
            RequestEnded::Abandoned => {
                "request abandoned: the client went away before the response"
            }
        })
    }
}

impl std::error::Error for RequestEnded {}

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
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let timeout = match request.headers().get(GRPC_TIMEOUT).map(parse_grpc_timeout) {
            None => None,
            Some(Ok(timeout)) => Some(timeout.min(self.max_timeout)),
            Some(Err(error)) => {
                let mut response = Response::new(ResBody::from(format!("{error}\n")));
                *response.status_mut() = StatusCode::BAD_REQUEST;
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                return ResponseFuture {
                    state: State::Rejected {
                        response: Some(response),
                    },
                };
            }
        };

        let headers = request.headers();
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

        let (ctx, cancel) = self.root.with_cancel_cause();
        let (ctx, deadline) = match timeout {
            Some(timeout) => {
                let (ctx, handle) = ctx.with_timeout(timeout);
                (ctx, Some(handle))
            }
            None => (ctx, None),
        };
        let ctx = ctx.with_value(trace_id).with_value(request_id);

        #[cfg(feature = "tracing")]
        let (ctx, span) = {
            let span = tracing::info_span!(
                "request",
                method = %request.method(),
                uri = %request.uri(),
                trace_id = %trace_id,
            );
            (ctx.with_value(RequestSpan(span.clone())), span)
        };

        request.extensions_mut().insert(ctx);

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
                guard: Some(Guard {
                    cancel,
                    _deadline: deadline,
                }),
                #[cfg(feature = "tracing")]
                span,
                #[cfg(not(feature = "tracing"))]
                span: (),
            },
        }
    }
}

#[cfg(feature = "tracing")]
type SpanSlot = tracing::Span;
#[cfg(not(feature = "tracing"))]
type SpanSlot = ();

/// Cancels the request's context when dropped: [`RequestEnded::Abandoned`]
/// unless the response was produced first.
struct Guard {
    cancel: CancelCauseHandle,
    _deadline: Option<CancelHandle>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        // First cancellation wins: after `Responded`, this is a no-op.
        self.cancel.cancel(RequestEnded::Abandoned);
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`ContextService`]: the handler's future,
    /// owning the request context's cancel handle. When it completes, the
    /// context is cancelled ([`RequestEnded::Responded`]); when it is
    /// dropped before that, too ([`RequestEnded::Abandoned`]).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use ctx::http::{ContextLayer, ResponseFuture};
    /// use http::{Request, Response};
    /// use tower::{service_fn, Layer, Service};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let inner = service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::from("ok"))) });
    /// let mut service = ContextLayer::new(ctx::Context::background()).layer(inner);
    /// let future: ResponseFuture<_, String> = service.call(Request::new(()));
    /// assert_eq!(future.await.unwrap().into_body(), "ok");
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
            span: SpanSlot,
        },
        Rejected {
            response: Option<Response<ResBody>>,
        },
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F, ResBody>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Running {
                future,
                guard,
                span,
            } => {
                #[cfg(feature = "tracing")]
                let _entered = span.enter();
                #[cfg(not(feature = "tracing"))]
                let () = *span;
                let output = ready!(future.poll(cx));
                if let Some(guard) = guard.take() {
                    guard.cancel.cancel(RequestEnded::Responded);
                }
                Poll::Ready(output)
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
