//! reqwest-middleware under a context (feature `reqwest-middleware`): what
//! [`SendCtx`](super::SendCtx) does, as a middleware of a
//! `ClientWithMiddleware`.

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use super::reqwest::execute;
use super::{ClientError, DeadlineLayer};
use crate::Context;

/// A [`reqwest_middleware::Middleware`] that sends every request under the
/// caller's context, as [`SendCtx`](super::SendCtx) does and with the same
/// code: fails fast when the context is done or the budget is below the
/// layer's minimum, sends the budget minus the layer's reserve as
/// `grpc-timeout` (and the layer's other deadline headers) and the trace as
/// `traceparent`, sets reqwest's timeout to the budget, races the call
/// against the context, and maps an upstream's `504 Gateway Timeout` or
/// gRPC `DEADLINE_EXCEEDED` to [`crate::Error::DeadlineExceeded`].
///
/// The caller's context is the `Context<'static>` in the request's
/// extensions (`RequestBuilder::with_extension`: a root or a
/// [`without_cancel`](Context::without_cancel) derivation), or else the one
/// [`with_context`](super::with_context) lends the call: the way to send a
/// request's `Context<'_>`. A request under neither fails with
/// [`ClientError::NoContext`].
///
/// Errors of the rest of the chain come back as they are; the context's
/// come back as `reqwest_middleware::Error::Middleware` holding a
/// [`ClientError`], which [`context_error`](ContextMiddleware::context_error)
/// reads.
///
/// ```no_run
/// use std::time::Duration;
/// use ctx::http::client::{with_context, ContextMiddleware, DeadlineLayer};
/// use ctx::Context;
/// use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
///
/// async fn stock(ctx: Context<'_>, http: &ClientWithMiddleware) -> Result<String, ctx::Error> {
///     let call = async {
///         let response = http.get("http://127.0.0.1:8080/stock").send().await?;
///         Ok::<_, reqwest_middleware::Error>(response.text().await?)
///     };
///     match with_context(&ctx, call).await {
///         Ok(stock) => Ok(stock),
///         Err(error) => Err(ContextMiddleware::context_error(&error).unwrap_or(ctx::Error::Canceled)),
///     }
/// }
///
/// # #[tokio::main]
/// # async fn main() {
/// let hop = DeadlineLayer::new().reserve(Duration::from_millis(20));
/// let http = ClientBuilder::new(reqwest::Client::new())
///     .with(ContextMiddleware::new(hop))
///     .build();
/// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(300));
/// // Sent with `grpc-timeout: 280000u` (or a little less: time passes).
/// let stock = stock(ctx, &http).await;
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ContextMiddleware {
    layer: DeadlineLayer,
}

impl ContextMiddleware {
    /// A middleware with `layer`'s reserve, minimum budget and deadline
    /// headers.
    ///
    /// ```
    /// use ctx::http::client::{ContextMiddleware, DeadlineLayer};
    ///
    /// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
    ///     .with(ContextMiddleware::new(DeadlineLayer::new()))
    ///     .build();
    /// ```
    pub const fn new(layer: DeadlineLayer) -> ContextMiddleware {
        ContextMiddleware { layer }
    }

    /// The context error a failed call stands for, if any: what a handler
    /// returns to its own caller (as 504 / `DEADLINE_EXCEEDED`, or 503 /
    /// `CANCELLED`).
    ///
    /// ```
    /// use ctx::http::client::ContextMiddleware;
    ///
    /// let error = reqwest_middleware::Error::middleware(std::io::Error::other("refused"));
    /// assert_eq!(ContextMiddleware::context_error(&error), None);
    /// ```
    pub fn context_error(error: &reqwest_middleware::Error) -> Option<crate::Error> {
        match error {
            reqwest_middleware::Error::Middleware(error) => error
                .downcast_ref::<ClientError<reqwest_middleware::Error>>()?
                .context_error(),
            reqwest_middleware::Error::Reqwest(_) => None,
        }
    }
}

#[async_trait::async_trait]
impl Middleware for ContextMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let ctx = extensions.get::<Context<'static>>().cloned();
        let Some(ctx) = ctx.or_else(ctx_core::__request::caller) else {
            let error = ClientError::<reqwest_middleware::Error>::NoContext;
            return Err(reqwest_middleware::Error::middleware(error));
        };
        let send = |request| next.run(request, extensions);
        execute(
            &ctx,
            self.layer,
            request,
            send,
            reqwest_middleware::Error::is_timeout,
        )
        .await
        .map_err(|error| match error {
            ClientError::Service(error) => error,
            error => reqwest_middleware::Error::middleware(error),
        })
    }
}
