//! A context's budget and trace, written into an outgoing request.

use std::time::Duration;

use http::HeaderMap;

use super::deadline_header::HeaderSet;
use super::ids::{TraceId, TRACEPARENT};
use crate::{Context, Error, Instant};

/// Writes what the next service needs to know about `ctx` into an outgoing
/// request's headers: its remaining budget as `grpc-timeout` (when it has a
/// deadline) and its [`TraceId`] as `traceparent` (when it carries one).
/// A server behind a [`ContextLayer`](super::ContextLayer) turns them back
/// into its request context's deadline and trace id: that is how a deadline
/// set at the edge reaches every service behind it.
///
/// Headers `ctx` has nothing for are left as they are. The client layer
/// (`ctx::http::client::DeadlineLayer`, feature `client`) does this for
/// every request a client sends, keeping a reserve for each hop.
///
/// # Errors
///
/// When `ctx` is already done, or its deadline has passed, the request is
/// not worth sending: its error is returned (as Go's clients do).
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
/// assert_eq!(budget, Duration::from_millis(800), "the clock is paused");
/// assert!(request.headers()["traceparent"].to_str().unwrap().contains(&TraceId(42).to_string()));
///
/// tokio::time::sleep(Duration::from_secs(1)).await;
/// assert_eq!(inject(&ctx, request.headers_mut()), Err(ctx::Error::DeadlineExceeded));
/// # }
/// ```
pub fn inject(ctx: &Context, headers: &mut HeaderMap) -> Result<(), Error> {
    if let Some(budget) = remaining_budget(ctx)? {
        HeaderSet::GRPC_TIMEOUT.write(headers, budget);
    }
    inject_trace(ctx, headers);
    Ok(())
}

/// The time `ctx` has left, `None` when it has no deadline.
///
/// # Errors
///
/// `ctx`'s error when it is done or its deadline has passed (even if its
/// timer has not fired yet).
pub(crate) fn remaining_budget(ctx: &Context) -> Result<Option<Duration>, Error> {
    if let Some(error) = ctx.err() {
        return Err(error);
    }
    let Some(deadline) = ctx.deadline() else {
        return Ok(None);
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(Error::DeadlineExceeded);
    }
    Ok(Some(left))
}

/// Writes `ctx`'s [`TraceId`], if it carries one, as `traceparent`.
pub(crate) fn inject_trace(ctx: &Context, headers: &mut HeaderMap) {
    if let Some(trace_id) = ctx.value::<TraceId>() {
        headers.insert(TRACEPARENT, trace_id.to_traceparent());
    }
}
