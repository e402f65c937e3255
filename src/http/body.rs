//! The response body of [`ContextLayer`](super::ContextLayer): ends the
//! request's context when the body is done, as Go's ends when `ServeHTTP`
//! returns, after the handler wrote the body.

use std::fmt;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use http_body::{Body, Frame, SizeHint};

use super::layer::{Guard, SpanSlot};
use crate::RequestEnded;

pin_project_lite::pin_project! {
    /// The response body of [`ContextService`](super::ContextService): the
    /// handler's body, owning the end of the request's context. So a body
    /// streamed after the response head (`Body::from_stream`, server-sent
    /// events) is produced under a live context, which ends
    /// ([`RequestEnded::Responded`]) once the body's last frame is
    /// produced, or ([`RequestEnded::Abandoned`]) when the server drops the
    /// body unfinished because the client went away.
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
        inner: B,
        // `None` once the context has ended, or for a response the layer
        // made itself (a rejected request, which never had a context).
        guard: Option<Guard>,
        span: SpanSlot,
    }

    impl<B> PinnedDrop for ResponseBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(guard) = this.guard.take() {
                // Dropped before its last frame was produced: the client
                // left, or the server gave up on the connection. (A body the
                // server never polled because it was empty from the start
                // was told apart when it was made.)
                guard.end(RequestEnded::Abandoned);
            }
        }
    }
}

impl<B: Body> ResponseBody<B> {
    /// Wraps the handler's body; the context ends with it. A body that is
    /// empty from the start (a server never polls it) ends it at once.
    pub(super) fn new(inner: B, guard: Guard, span: SpanSlot) -> ResponseBody<B> {
        let guard = if inner.is_end_stream() {
            guard.end(RequestEnded::Responded);
            None
        } else {
            Some(guard)
        };
        ResponseBody { inner, guard, span }
    }
}

impl<B> ResponseBody<B> {
    /// A body with no context to end: a response the layer answered
    /// itself.
    pub(super) fn without_context(inner: B) -> ResponseBody<B> {
        ResponseBody {
            inner,
            guard: None,
            span: SpanSlot::none(),
        }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        #[cfg(feature = "tracing")]
        let _entered = this.span.enter();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        let ended = match &frame {
            None => Some(RequestEnded::Responded),
            Some(Ok(_)) if this.inner.is_end_stream() => Some(RequestEnded::Responded),
            Some(Ok(_)) => None,
            // The server aborts a response whose body fails.
            Some(Err(_)) => Some(RequestEnded::Abandoned),
        };
        if let Some(why) = ended {
            if let Some(guard) = this.guard.take() {
                guard.end(why);
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> fmt::Debug for ResponseBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseBody")
            .field("request_ended", &self.guard.is_none())
            .finish_non_exhaustive()
    }
}
