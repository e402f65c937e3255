//! The response future of [`ContextService`](super::ContextService): the
//! handler's future, polled in the request's span, whose response takes
//! over the request in flight and echoes the request id.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};

use http::{HeaderValue, Response};
use http_body::Body;

use super::body::{InFlightRequest, ResponseBody};
use super::span::SpanSlot;
use crate::http::deadline_header::DeadlineHeaderError;
use crate::http::ids::REQUEST_ID;
use crate::http::incoming::bad_request;

pin_project_lite::pin_project! {
    /// The response future of [`ContextService`](super::ContextService):
    /// the handler's future, owning the end of the request's context. Its
    /// response's body ([`ResponseBody`]) takes it over; dropped before the
    /// response, it cancels the context ([`RequestEnded::Abandoned`](crate::RequestEnded::Abandoned)).
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
            // `None` once the response took it over.
            request: Option<InFlightRequest>,
            echoed: Option<HeaderValue>,
            span: SpanSlot,
        },
        Rejected {
            response: Option<Response<ResponseBody<ResBody>>>,
        },
    }
}

impl<F, ResBody> ResponseFuture<F, ResBody> {
    /// The handler's `future` for a request in flight, whose response
    /// echoes `echoed` as its request id.
    pub(super) fn running(
        future: F,
        request: InFlightRequest,
        echoed: Option<HeaderValue>,
        span: SpanSlot,
    ) -> Self {
        ResponseFuture {
            state: State::Running {
                future,
                request: Some(request),
                echoed,
                span,
            },
        }
    }

    /// The layer's own answer to a request it refused (a malformed deadline
    /// header): a 400 saying why, with the request id echoed.
    pub(super) fn rejected(error: &DeadlineHeaderError, echoed: Option<HeaderValue>) -> Self {
        let mut response = bad_request(error);
        echo(&mut response, echoed);
        ResponseFuture {
            state: State::Rejected {
                response: Some(response.map(ResponseBody::rejection)),
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
                request,
                echoed,
                span,
            } => {
                let output = {
                    #[cfg(feature = "tracing")]
                    let _entered = span.enter();
                    ready!(future.poll(cx))
                };
                let request = request
                    .take()
                    .expect("ResponseFuture polled after completion");
                Poll::Ready(output.map(|mut response| {
                    echo(&mut response, echoed.take());
                    // The body takes over the end of the context.
                    let span = std::mem::replace(span, SpanSlot::none());
                    response.map(|body| ResponseBody::new(body, request, span))
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

/// Echoes the request id on `response`, unless the handler set one.
fn echo<B>(response: &mut Response<B>, request_id: Option<HeaderValue>) {
    if let Some(request_id) = request_id {
        response
            .headers_mut()
            .entry(REQUEST_ID)
            .or_insert(request_id);
    }
}
