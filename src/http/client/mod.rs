//! The outgoing side of a budget (feature `client`): a tower layer for HTTP
//! and gRPC clients that sends each request under the caller's context.
//!
//! [`DeadlineLayer`] wraps any tower `Service<http::Request<B>>` answering
//! `http::Response<_>`: hyper-util's legacy `Client`, a tonic `Channel`, or
//! a stack of tower middleware around either. For every request it
//!
//! 1. takes the caller's context: the one given to
//!    [`DeadlineService::call_with`], or the `Context<'static>` in the
//!    request's extensions, or the one [`with_context`] lends the calls it
//!    runs;
//! 2. fails fast, without sending, when that context is done or the budget
//!    left for the upstream is below [`min_budget`](DeadlineLayer::min_budget);
//! 3. writes the context's remaining time minus a per-hop
//!    [`reserve`](DeadlineLayer::reserve) as `grpc-timeout` (and as the
//!    other [`DeadlineHeader`]s it is told to send), and its trace as
//!    `traceparent` (what [`inject`](super::inject) writes);
//! 4. races the call against the context, with that reserve taken off the
//!    deadline: a cancelled caller drops the call (closing its stream or
//!    connection, which ends the upstream's request context), and a call
//!    the upstream did not answer within its budget ends then, leaving the
//!    reserve to report it;
//! 5. maps an upstream's `504 Gateway Timeout` or gRPC `DEADLINE_EXCEEDED`
//!    back to [`Error::DeadlineExceeded`], in a [`CallError`] naming the hop.
//!
//! # Attaching the context
//!
//! A request's extensions only hold `'static` values, so the extension is
//! a `Context<'static>`: a root, or a [`without_cancel`](Context::without_cancel)
//! derivation. Code holding a scoped `Context<'_>` (a request's context,
//! a `#[ctx_fn]`'s) calls [`DeadlineService::call_with`], whose future is
//! bound to the context's scope, or, through a client that builds its
//! requests itself (a tonic client), runs the call in [`with_context`].
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::body::Bytes;
//! use ctx::http::client::DeadlineLayer;
//! use ctx::Context;
//! use http_body_util::Full;
//! use hyper_util::client::legacy::Client;
//! use hyper_util::rt::TokioExecutor;
//! use tower::{Layer, Service, ServiceExt};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
//! let mut client = DeadlineLayer::new()
//!     .reserve(Duration::from_millis(20))
//!     .layer(client);
//!
//! let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(300));
//! let mut request = http::Request::get("http://127.0.0.1:8080/stock").body(Full::default())?;
//! request.extensions_mut().insert(ctx.clone());
//! // Sent with `grpc-timeout: 280000u` (or a little less: time passes).
//! let response = client.ready().await?.call(request).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`DeadlineHeader`]: super::DeadlineHeader

mod error;
#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
mod middleware;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
mod reqwest;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context as TaskContext, Poll};
use std::time::Duration;

use http::{HeaderMap, Method, Request, Response, Uri};
use tower::{Layer, Service};

#[cfg(feature = "reqwest-middleware")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest-middleware")))]
pub use self::middleware::ContextMiddleware;
#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
pub use self::reqwest::SendCtx;
pub use error::{CallError, CallErrorReason, ClientError};

use super::deadline_header::DeadlineHeader;
use super::outgoing::{CallEnd, Outgoing, Refused};
use crate::{Context, DoneOwned, Error, Instant};

/// A tower [`Layer`] that sends every request under the caller's context:
/// see the [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use ctx::http::{DeadlineHeader, GRPC_TIMEOUT};
/// use ctx::http::client::DeadlineLayer;
/// use ctx::Context;
/// use tower::{service_fn, Layer, Service};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// // An upstream that echoes the budget it was given.
/// let upstream = service_fn(|request: http::Request<()>| async move {
///     let budget = request.headers()[GRPC_TIMEOUT].clone();
///     Ok::<_, std::convert::Infallible>(http::Response::new(budget))
/// });
/// let mut client = DeadlineLayer::new()
///     .reserve(Duration::from_millis(50))
///     .header(DeadlineHeader::ConnectTimeoutMs, true)
///     .layer(upstream);
///
/// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(300));
/// let mut request = http::Request::get("http://inventory.internal/stock").body(()).unwrap();
/// request.extensions_mut().insert(ctx.clone());
/// let response = client.call(request).await.unwrap();
/// assert_eq!(response.body(), "250000u", "300 ms minus the reserve (the clock is paused)");
/// # }
/// ```
#[derive(Clone, Copy, Debug)]
pub struct DeadlineLayer {
    outgoing: Outgoing,
}

impl DeadlineLayer {
    /// The default [`reserve`](DeadlineLayer::reserve): 10 ms, enough to
    /// answer a caller on a local network.
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(ctx::http::client::DeadlineLayer::DEFAULT_RESERVE, Duration::from_millis(10));
    /// ```
    pub const DEFAULT_RESERVE: Duration = Outgoing::DEFAULT_RESERVE;

    /// The default [`min_budget`](DeadlineLayer::min_budget): 1 ms, below
    /// which no call over a network completes.
    ///
    /// ```
    /// # use std::time::Duration;
    /// assert_eq!(ctx::http::client::DeadlineLayer::DEFAULT_MIN_BUDGET, Duration::from_millis(1));
    /// ```
    pub const DEFAULT_MIN_BUDGET: Duration = Outgoing::DEFAULT_MIN_BUDGET;

    /// A layer with the default reserve and minimum that sends budgets as
    /// `grpc-timeout`.
    ///
    /// ```
    /// let layer = ctx::http::client::DeadlineLayer::new();
    /// ```
    pub const fn new() -> DeadlineLayer {
        DeadlineLayer {
            outgoing: Outgoing::DEFAULT,
        }
    }

    /// The time this hop keeps for itself out of the caller's remaining
    /// budget: the upstream is given the rest, and the call ends when the
    /// rest is spent, so the caller still has `reserve` to answer its own
    /// caller (with a 504 rather than silence). Zero for a client with
    /// nothing to do after the call.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let edge_client = ctx::http::client::DeadlineLayer::new().reserve(Duration::ZERO);
    /// ```
    pub const fn reserve(mut self, reserve: Duration) -> DeadlineLayer {
        self.outgoing.reserve = reserve;
        self
    }

    /// The smallest budget worth sending: when the upstream would be given
    /// less (after the reserve), the request is not sent and the call fails
    /// with [`Error::DeadlineExceeded`] at once ([`CallErrorReason::BudgetBelowMinimum`]).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let layer = ctx::http::client::DeadlineLayer::new().min_budget(Duration::from_millis(5));
    /// ```
    pub const fn min_budget(mut self, min: Duration) -> DeadlineLayer {
        self.outgoing.min_budget = min;
        self
    }

    /// Whether the budget is also sent as `header` (`send`), or not.
    /// Default: `grpc-timeout` only.
    ///
    /// ```
    /// use ctx::http::DeadlineHeader;
    ///
    /// // An upstream speaking the Connect protocol:
    /// let layer = ctx::http::client::DeadlineLayer::new()
    ///     .header(DeadlineHeader::GrpcTimeout, false)
    ///     .header(DeadlineHeader::ConnectTimeoutMs, true);
    /// ```
    pub fn header(mut self, header: DeadlineHeader, send: bool) -> DeadlineLayer {
        self.outgoing.headers = self.outgoing.headers.set(header, send);
        self
    }

    /// Writes the budget and trace of `ctx` into `headers`, returning the
    /// instant the call ends at (the caller's deadline minus the reserve)
    /// and the budget written.
    pub(crate) fn prepare(
        &self,
        ctx: &Context<'_>,
        headers: &mut HeaderMap,
    ) -> Result<CallEnd, (Error, CallErrorReason)> {
        self.outgoing
            .prepare(ctx, headers)
            .map_err(|(error, refused)| {
                let reason = match refused {
                    Refused::CallerDone => CallErrorReason::CallerDone {
                        cause: ctx.cause(),
                        sent: false,
                    },
                    Refused::BelowMinimum { budget, min_budget } => {
                        CallErrorReason::BudgetBelowMinimum { budget, min_budget }
                    }
                };
                (error, reason)
            })
    }

    /// The context a call runs under: the caller's, or a child ending at
    /// the call's end when a reserve makes that earlier (its deadline ends
    /// it; nothing else needs to).
    pub(crate) fn call_context<'a>(&self, ctx: &Context<'a>, end: CallEnd) -> Context<'a> {
        match end {
            Some((end, _)) if !self.outgoing.reserve.is_zero() => ctx.with_deadline(end).0,
            _ => ctx.clone(),
        }
    }
}

impl Default for DeadlineLayer {
    fn default() -> DeadlineLayer {
        DeadlineLayer::new()
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> DeadlineService<S> {
        DeadlineService {
            inner,
            layer: *self,
        }
    }
}

/// The service made by [`DeadlineLayer`]; see there.
///
/// ```
/// use ctx::http::client::{DeadlineLayer, DeadlineService};
/// use tower::Layer;
///
/// let service: DeadlineService<()> = DeadlineLayer::new().layer(());
/// ```
#[derive(Clone, Debug)]
pub struct DeadlineService<S> {
    inner: S,
    layer: DeadlineLayer,
}

impl<S> DeadlineService<S> {
    /// Sends `request` under `ctx`, a context of any scope (a `#[ctx_fn]`'s
    /// included): the returned future is bound to that scope. Like
    /// [`Service::call`], it expects the service to be ready
    /// (`ServiceExt::ready`; hyper-util's client always is).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::http::client::DeadlineLayer;
    /// use ctx::Context;
    /// use tower::{service_fn, Layer};
    ///
    /// async fn stock(ctx: Context<'_>) -> Result<u16, Box<dyn std::error::Error>> {
    ///     let upstream = service_fn(|_: http::Request<()>| async {
    ///         Ok::<_, std::io::Error>(http::Response::new(()))
    ///     });
    ///     let mut client = DeadlineLayer::new().layer(upstream);
    ///     let request = http::Request::get("http://inventory.internal/stock").body(())?;
    ///     let response = client.call_with(&ctx, request).await?;
    ///     Ok(response.status().as_u16())
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(1));
    /// assert_eq!(stock(ctx).await.unwrap(), 200);
    /// # }
    /// ```
    pub fn call_with<'a, B>(
        &mut self,
        ctx: &Context<'a>,
        mut request: Request<B>,
    ) -> ResponseFuture<'a, S::Future>
    where
        S: Service<Request<B>>,
    {
        let hop = (request.method().clone(), request.uri().clone());
        match self.layer.prepare(ctx, request.headers_mut()) {
            Err((error, reason)) => {
                ResponseFuture::failed(Failure::Call(CallError::new(error, hop.0, hop.1, reason)))
            }
            Ok(end) => {
                let call_ctx = self.layer.call_context(ctx, end);
                ResponseFuture {
                    state: State::Calling {
                        call: self.inner.call(request),
                        done: call_ctx.done_owned(),
                        call_ctx,
                        end,
                        hop,
                    },
                }
            }
        }
    }
}

impl<S, B, ResBody> Service<Request<B>> for DeadlineService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Response = Response<ResBody>;
    type Error = ClientError<S::Error>;
    type Future = ResponseFuture<'static, S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(ClientError::Service)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let ctx = request.extensions().get::<Context<'static>>().cloned();
        match ctx.or_else(ctx_core::__request::caller) {
            Some(ctx) => self.call_with(&ctx, request),
            None => ResponseFuture::failed(Failure::NoContext),
        }
    }
}

/// Runs `call` under `ctx`: every request a [`DeadlineService`] sends
/// while `call` is polled, without a context of its own, goes under `ctx`.
/// The way to send a scoped `Context<'_>` (a tonic handler's, a
/// `#[ctx_fn]`'s) through a client that builds its requests itself, such
/// as a tonic client; the returned future cannot outlive `ctx`.
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use ctx::http::client::{with_context, DeadlineLayer};
/// use ctx::http::GRPC_TIMEOUT;
/// use ctx::Context;
/// use tower::{service_fn, Layer, Service};
///
/// async fn stock(ctx: Context<'_>) -> String {
///     let upstream = service_fn(|request: http::Request<()>| async move {
///         Ok::<_, Infallible>(http::Response::new(request.headers()[GRPC_TIMEOUT].clone()))
///     });
///     let mut client = DeadlineLayer::new().layer(upstream);
///     let request = http::Request::new(());
///     // The call is made inside: a future's work starts when it is polled.
///     let response = with_context(&ctx, async { client.call(request).await }).await.unwrap();
///     response.into_body().to_str().unwrap().to_owned()
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(300));
/// assert_eq!(stock(ctx).await, "290000u", "300 ms minus the default reserve");
/// # }
/// ```
pub async fn with_context<F: Future>(ctx: &Context<'_>, call: F) -> F::Output {
    ctx_core::__request::with_caller(ctx, call).await
}

/// A call that ended before it was sent.
enum Failure {
    NoContext,
    Call(CallError),
}

pin_project_lite::pin_project! {
    /// The response future of [`DeadlineService`]: the inner call, raced
    /// against the caller's context (with the hop's reserve taken off its
    /// deadline). Dropping it drops the call.
    ///
    /// ```
    /// use ctx::http::client::{DeadlineLayer, ResponseFuture};
    /// use ctx::Context;
    /// use tower::{service_fn, Layer};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let upstream = service_fn(|_: http::Request<()>| async {
    ///     Ok::<_, std::io::Error>(http::Response::new("ok"))
    /// });
    /// let mut client = DeadlineLayer::new().layer(upstream);
    /// let future: ResponseFuture<'_, _> = client.call_with(&Context::background(), http::Request::new(()));
    /// assert_eq!(*future.await.unwrap().body(), "ok");
    /// # }
    /// ```
    pub struct ResponseFuture<'a, F> {
        #[pin]
        state: State<'a, F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<'a, F> {
        Calling {
            #[pin]
            call: F,
            done: DoneOwned<'a>,
            call_ctx: Context<'a>,
            // When the call ends, and the budget the upstream was given.
            end: Option<(Instant, Duration)>,
            hop: (Method, Uri),
        },
        Failed {
            failure: Option<Failure>,
        },
    }
}

impl<F> ResponseFuture<'_, F> {
    fn failed(failure: Failure) -> Self {
        ResponseFuture {
            state: State::Failed {
                failure: Some(failure),
            },
        }
    }
}

impl<F, ResBody, E> Future for ResponseFuture<'_, F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = Result<Response<ResBody>, ClientError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Calling {
                call,
                done,
                call_ctx,
                end,
                hop,
                ..
            } => {
                let ended = |error: Error| {
                    let (method, uri) = hop.clone();
                    ClientError::Context(call_ended(error, *end, call_ctx, method, uri))
                };
                if let Poll::Ready(error) = Pin::new(done).poll(cx) {
                    return Poll::Ready(Err(ended(error)));
                }
                // The call's end (its context's deadline) is checked on the
                // clock too, not only by the context's timer: an upstream's
                // answer that it ran out of time comes after its budget,
                // which ends after ours, and must not win the race against
                // our timer.
                if call_ctx.remaining() == Some(Duration::ZERO) {
                    return Poll::Ready(Err(ended(Error::DeadlineExceeded)));
                }
                let response = ready!(call.poll(cx)).map_err(ClientError::Service)?;
                if let Some(reason) =
                    error::upstream_deadline(response.status(), response.headers())
                {
                    let error = CallError::new(
                        Error::DeadlineExceeded,
                        hop.0.clone(),
                        hop.1.clone(),
                        reason,
                    );
                    return Poll::Ready(Err(ClientError::Context(error)));
                }
                Poll::Ready(Ok(response))
            }
            StateProj::Failed { failure } => Poll::Ready(Err(
                match failure
                    .take()
                    .expect("ResponseFuture polled after completion")
                {
                    Failure::NoContext => ClientError::NoContext,
                    Failure::Call(error) => ClientError::Context(error),
                },
            )),
        }
    }
}

/// A sent call that its context ended: the upstream's budget spent
/// (`DeadlineExceeded` with a budget sent), or the caller's context done.
pub(crate) fn call_ended(
    error: Error,
    end: CallEnd,
    call_ctx: &Context<'_>,
    method: Method,
    uri: Uri,
) -> CallError {
    let reason = match (error, end) {
        (Error::DeadlineExceeded, Some((_, budget))) => CallErrorReason::NoAnswerInTime { budget },
        _ => CallErrorReason::CallerDone {
            cause: call_ctx.cause(),
            sent: true,
        },
    };
    CallError::new(error, method, uri, reason)
}

impl<F> fmt::Debug for ResponseFuture<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
