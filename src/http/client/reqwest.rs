//! reqwest under a context (feature `reqwest`): what [`DeadlineLayer`]
//! does for tower clients, as an extension of `reqwest::RequestBuilder`.

use std::future::Future;

use http::Uri;
use reqwest::{Request, RequestBuilder, Response};

use super::error::upstream_deadline;
use super::{call_ended, CallError, ClientError, DeadlineLayer};
use crate::Context;

/// Sends a reqwest request under a context: `.send_ctx(&ctx)` where reqwest
/// has `.send()`.
///
/// Computed as [`DeadlineLayer`] computes it for tower clients, with the
/// same code: the request
///
/// - is not sent when `ctx` is done or the budget left for the upstream,
///   after the layer's [`reserve`](DeadlineLayer::reserve), is below its
///   [`min_budget`](DeadlineLayer::min_budget);
/// - carries that budget as `grpc-timeout` (and the other deadline headers
///   the layer is told to send) and `ctx`'s trace as `traceparent`;
/// - has reqwest's own timeout set to that budget, and is raced against
///   `ctx` with the reserve taken off its deadline: a cancelled caller
///   drops the call, an upstream that did not answer within its budget is
///   dropped when the budget is spent;
/// - comes back as [`crate::Error::DeadlineExceeded`], in a
///   [`CallError`] naming the hop, when the upstream answers
///   `504 Gateway Timeout` or gRPC `DEADLINE_EXCEEDED`.
///
/// [`ClientError::context_error`] is what a handler returns to its own
/// caller.
///
/// ```no_run
/// use std::time::Duration;
/// use ctx::http::client::{ClientError, SendCtx};
/// use ctx::Context;
///
/// async fn stock(ctx: Context<'_>, http: &reqwest::Client) -> Result<String, ClientError<reqwest::Error>> {
///     let response = http.get("http://127.0.0.1:8080/stock").send_ctx(&ctx).await?;
///     response.text().await.map_err(ClientError::Service)
/// }
///
/// # #[tokio::main]
/// # async fn main() {
/// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(300));
/// // Sent with `grpc-timeout: 290000u` (or a little less: time passes).
/// let stock = stock(ctx, &reqwest::Client::new()).await;
/// # }
/// ```
pub trait SendCtx {
    /// Sends the request under `ctx`, with [`DeadlineLayer::new`]'s reserve
    /// and minimum.
    ///
    /// # Errors
    ///
    /// [`ClientError::Context`] when the context or the budget ended the
    /// call, [`ClientError::Service`] when reqwest failed otherwise.
    ///
    /// ```no_run
    /// use ctx::http::client::SendCtx;
    /// # async fn f(ctx: ctx::Context<'_>) -> Result<(), Box<dyn std::error::Error>> {
    /// let response = reqwest::Client::new().get("http://127.0.0.1:8080/").send_ctx(&ctx).await?;
    /// # Ok(()) }
    /// ```
    fn send_ctx(
        self,
        ctx: &Context<'_>,
    ) -> impl Future<Output = Result<Response, ClientError<reqwest::Error>>> + Send;

    /// Sends the request under `ctx`, with `layer`'s reserve, minimum and
    /// deadline headers.
    ///
    /// # Errors
    ///
    /// As [`send_ctx`](SendCtx::send_ctx).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use ctx::http::client::{DeadlineLayer, SendCtx};
    /// # async fn f(ctx: ctx::Context<'_>) -> Result<(), Box<dyn std::error::Error>> {
    /// let hop = DeadlineLayer::new().reserve(Duration::from_millis(50));
    /// let response = reqwest::Client::new().get("http://127.0.0.1:8080/").send_ctx_with(&ctx, &hop).await?;
    /// # Ok(()) }
    /// ```
    fn send_ctx_with(
        self,
        ctx: &Context<'_>,
        layer: &DeadlineLayer,
    ) -> impl Future<Output = Result<Response, ClientError<reqwest::Error>>> + Send;
}

impl SendCtx for RequestBuilder {
    fn send_ctx(
        self,
        ctx: &Context<'_>,
    ) -> impl Future<Output = Result<Response, ClientError<reqwest::Error>>> + Send {
        send(self, ctx, DeadlineLayer::new())
    }

    fn send_ctx_with(
        self,
        ctx: &Context<'_>,
        layer: &DeadlineLayer,
    ) -> impl Future<Output = Result<Response, ClientError<reqwest::Error>>> + Send {
        send(self, ctx, *layer)
    }
}

async fn send(
    builder: RequestBuilder,
    ctx: &Context<'_>,
    layer: DeadlineLayer,
) -> Result<Response, ClientError<reqwest::Error>> {
    let (client, request) = builder.build_split();
    let request = request.map_err(ClientError::Service)?;
    execute(
        ctx,
        layer,
        request,
        |request| client.execute(request),
        reqwest::Error::is_timeout,
    )
    .await
}

/// Sends `request` under `ctx` as `layer` says (see [`SendCtx`]), through
/// `send`: a reqwest client's `execute`, or the rest of a middleware
/// chain. `is_timeout` tells reqwest's own timeout (set to the budget)
/// among `send`'s errors.
pub(super) async fn execute<E, F>(
    ctx: &Context<'_>,
    layer: DeadlineLayer,
    mut request: Request,
    send: impl FnOnce(Request) -> F,
    is_timeout: impl FnOnce(&E) -> bool,
) -> Result<Response, ClientError<E>>
where
    F: Future<Output = Result<Response, E>>,
{
    let method = request.method().clone();
    // A reqwest URL is always a valid URI.
    let uri = Uri::try_from(request.url().as_str()).unwrap_or_default();
    let end = match layer.prepare(ctx, request.headers_mut()) {
        Ok(end) => end,
        Err((error, reason)) => {
            return Err(ClientError::Context(CallError::new(
                error, method, uri, reason,
            )));
        }
    };
    if let Some((_, budget)) = end {
        *request.timeout_mut() = Some(budget);
    }
    let call_ctx = layer.call_context(ctx, end);
    let response = match call_ctx.run(send(request)).await {
        Err(error) => {
            return Err(ClientError::Context(call_ended(
                error, end, &call_ctx, method, uri,
            )))
        }
        // reqwest's timer for the budget fired before the context's.
        Ok(Err(error)) if end.is_some() && is_timeout(&error) => {
            let error = crate::Error::DeadlineExceeded;
            return Err(ClientError::Context(call_ended(
                error, end, &call_ctx, method, uri,
            )));
        }
        Ok(response) => response.map_err(ClientError::Service)?,
    };
    match upstream_deadline(response.status(), response.headers()) {
        Some(reason) => Err(ClientError::Context(CallError::new(
            crate::Error::DeadlineExceeded,
            method,
            uri,
            reason,
        ))),
        None => Ok(response),
    }
}
