//! The response body of [`ContextLayer`](super::ContextLayer), and the
//! request in flight it carries: the request's context ends when the body
//! is done, as Go's ends when `ServeHTTP` returns, after the handler wrote
//! the body.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio_util::task::task_tracker::TaskTrackerToken;

use super::span::SpanSlot;
use crate::RequestEnded;
use ctx_core::__request::RequestEnd;

pin_project_lite::pin_project! {
    /// The response body of [`ContextService`](super::ContextService): the
    /// handler's body, owning the end of the request's context. So a body
    /// streamed after the response head (`Body::from_stream`, server-sent
    /// events) is produced under a live context, which ends
    /// ([`RequestEnded::Responded`]) once the body's last frame is
    /// produced, or ([`RequestEnded::Abandoned`]) when the server drops the
    /// body unfinished because the client went away.
    ///
    /// A request the layer refuses (a malformed deadline header) never
    /// reaches the handler: its body is the layer's own message, whatever
    /// the handler's body type (any whose data chunks are made from
    /// [`Bytes`], as axum's, tonic's, `String` and `Full<Bytes>`).
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use axum::body::Bytes;
    /// use ctx::http::ContextLayer;
    /// use http::{Request, Response};
    /// use http_body_util::{BodyExt, Empty};
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let inner = service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) });
    /// let service = ContextLayer::new(ctx::Context::background()).layer(inner);
    /// let request = Request::builder().header("grpc-timeout", "soon").body(()).unwrap();
    /// let response = service.oneshot(request).await.unwrap();
    /// assert_eq!(response.status(), 400);
    /// let message = response.into_body().collect().await.unwrap().to_bytes();
    /// assert!(message.starts_with(b"malformed grpc-timeout"));
    /// # }
    /// ```
    ///
    /// With the `tracing` feature, the body is polled in the request's span.
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use std::sync::mpsc;
    /// use std::time::Duration;
    /// use ctx::http::{ContextLayer, RequestContextExt, ResponseBody};
    /// use http::{Request, Response};
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (ended, request_ended) = mpsc::sync_channel(1);
    /// let inner = service_fn(move |request: Request<()>| {
    ///     let ended = ended.clone();
    ///     let ctx = request.context().unwrap();
    ///     let _registered = ctx.after_func(move || ended.send(()).unwrap());
    ///     async { Ok::<_, Infallible>(Response::new(String::from("ok"))) }
    /// });
    /// let service = ContextLayer::new(ctx::Context::background()).layer(inner);
    /// let response: Response<ResponseBody<String>> = service.oneshot(Request::new(())).await.unwrap();
    /// assert!(request_ended.try_recv().is_err(), "the body is not sent yet");
    ///
    /// let body = axum::body::to_bytes(axum::body::Body::new(response.into_body()), 64).await.unwrap();
    /// assert_eq!(body, "ok");
    /// assert_eq!(request_ended.recv_timeout(Duration::from_secs(10)), Ok(()), "the body is done: so is the request");
    /// # }
    /// ```
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        /// The handler's body. `request` is `None` once the context has
        /// ended; dropped before that, it ends the context as abandoned,
        /// before `inner` is dropped.
        Handler {
            request: Option<InFlightRequest>,
            span: SpanSlot,
            #[pin]
            inner: B,
        },
        /// The layer's own answer to a request it refused; `None` once sent.
        Rejection {
            message: Option<Bytes>,
        },
    }
}

impl<B: Body> ResponseBody<B> {
    /// Wraps the handler's body; the request's context ends with it. A
    /// body that is empty from the start (a server never polls it) ends it
    /// at once.
    pub(super) fn new(inner: B, request: InFlightRequest, span: SpanSlot) -> ResponseBody<B> {
        let request = if inner.is_end_stream() {
            request.end(RequestEnded::Responded);
            None
        } else {
            Some(request)
        };
        ResponseBody {
            kind: Kind::Handler {
                request,
                span,
                inner,
            },
        }
    }
}

impl<B> ResponseBody<B> {
    /// The body of a response the layer answered itself, with no context
    /// to end: `message`.
    pub(super) fn rejection(message: Bytes) -> ResponseBody<B> {
        ResponseBody {
            kind: Kind::Rejection {
                message: Some(message),
            },
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body,
    B::Data: From<Bytes>,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let (mut inner, request, span) = match self.project().kind.project() {
            KindProj::Handler {
                inner,
                request,
                span,
            } => (inner, request, span),
            KindProj::Rejection { message } => {
                let frame = message
                    .take()
                    .map(|message| Ok(Frame::data(message.into())));
                return Poll::Ready(frame);
            }
        };
        #[cfg(feature = "tracing")]
        let _entered = span.enter();
        #[cfg(not(feature = "tracing"))]
        let _ = span;
        let frame = ready!(inner.as_mut().poll_frame(cx));
        let ended = match &frame {
            None => Some(RequestEnded::Responded),
            Some(Ok(_)) if inner.is_end_stream() => Some(RequestEnded::Responded),
            Some(Ok(_)) => None,
            // The server aborts a response whose body fails.
            Some(Err(_)) => Some(RequestEnded::Abandoned),
        };
        if let Some(why) = ended {
            if let Some(request) = request.take() {
                request.end(why);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Handler { inner, .. } => inner.is_end_stream(),
            Kind::Rejection { message } => message.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Handler { inner, .. } => inner.size_hint(),
            Kind::Rejection { message } => {
                SizeHint::with_exact(message.as_ref().map_or(0, |message| message.len() as u64))
            }
        }
    }
}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let request_ended = match &self.kind {
            Kind::Handler { request, .. } => request.is_none(),
            Kind::Rejection { .. } => true,
        };
        f.debug_struct("ResponseBody")
            .field("request_ended", &request_ended)
            .finish_non_exhaustive()
    }
}

/// A request whose response is not done: the end of its context, and its
/// place among the requests a graceful shutdown waits for, released with
/// it. Ends the context exactly once: with the cause given to
/// [`end`](InFlightRequest::end), or with [`RequestEnded::Abandoned`] when
/// dropped first.
pub(super) struct InFlightRequest {
    /// `None` once the request's context is ended.
    end: Option<RequestEnd>,
    _tracked: Option<TaskTrackerToken>,
}

impl InFlightRequest {
    /// A request whose context `end` ends, counted by `tracked` if a
    /// shutdown waits for it.
    pub(super) fn new(end: RequestEnd, tracked: Option<TaskTrackerToken>) -> InFlightRequest {
        InFlightRequest {
            end: Some(end),
            _tracked: tracked,
        }
    }

    /// Ends the request's context, saying why.
    pub(super) fn end(mut self, why: RequestEnded) {
        self.end_once(why);
    }

    /// Ends the request's context unless it is ended already.
    fn end_once(&mut self, why: RequestEnded) {
        if let Some(end) = self.end.take() {
            end.end(why);
        }
    }
}

impl Drop for InFlightRequest {
    fn drop(&mut self) {
        self.end_once(RequestEnded::Abandoned);
    }
}
