//! A context's budget and trace, written into an outgoing request.

use http::HeaderMap;

use super::outgoing::Outgoing;
use crate::{Context, Error};

/// Writes what the next service needs to know about `ctx` into an outgoing
/// request's headers: its remaining budget, minus a reserve of 10 ms for
/// this hop to answer its own caller, as `grpc-timeout` (when it has a
/// deadline) and its [`TraceId`](super::TraceId) as `traceparent` (when it
/// carries one). A server behind a [`ContextLayer`](super::ContextLayer)
/// turns them back into its request context's deadline and trace id: that
/// is how a deadline set at the edge reaches every service behind it.
///
/// Headers `ctx` has nothing for are left as they are. The client layer
/// (`ctx::http::client::DeadlineLayer`, feature `client`) computes the same
/// for every request a client sends, with a reserve and minimum of your
/// choice, and races the call against the context.
///
/// # Errors
///
/// When `ctx` is already done, its deadline has passed, or less than 1 ms
/// would be left for the next service after the reserve, the request is
/// not worth sending: the context's error (`DeadlineExceeded` for a budget
/// too small) is returned, as Go's clients do.
///
/// ```
/// use std::time::Duration;
/// use ctx::http::{inject, parse_grpc_timeout, TraceId, GRPC_TIMEOUT};
/// use ctx::Context;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let request_ctx = Context::background().with_value(TraceId(42));
/// let (ctx, _cancel) = request_ctx.with_timeout(Duration::from_millis(800));
///
/// let mut request = http::Request::post("http://127.0.0.1:9/publish").body(()).unwrap();
/// inject(&ctx, request.headers_mut()).unwrap();
///
/// let budget = parse_grpc_timeout(request.headers()[GRPC_TIMEOUT].as_bytes()).unwrap();
/// assert_eq!(budget, Duration::from_millis(790), "800 ms minus the reserve (the clock is paused)");
/// assert!(request.headers()["traceparent"].to_str().unwrap().contains(&TraceId(42).to_string()));
///
/// tokio::time::sleep(Duration::from_secs(1)).await;
/// assert_eq!(inject(&ctx, request.headers_mut()), Err(ctx::Error::DeadlineExceeded));
/// # }
/// ```
pub fn inject(ctx: &Context, headers: &mut HeaderMap) -> Result<(), Error> {
    Outgoing::DEFAULT
        .prepare(ctx, headers)
        .map(drop)
        .map_err(|(error, _)| error)
}
