//! The request's tracing span: opened by the layer for each request (feature
//! `tracing`), entered while the handler and the response body are polled,
//! and kept in the request's context for work detached from it.

use http::Request;

use crate::http::TraceId;
use crate::Context;

/// The tracing span the [`ContextLayer`](super::ContextLayer) opened for a
/// request (feature `tracing`), stored in the request's context so that
/// work detached from the request can re-enter it.
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

/// The request's tracing span (feature `tracing`); nothing without it.
pub(super) struct SpanSlot {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl SpanSlot {
    /// The request's span, opened here and recorded in its context as a
    /// `RequestSpan` (feature `tracing`); nothing without the feature.
    pub(super) fn for_request<B>(
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

    /// Enters the span for the current poll (feature `tracing`).
    #[cfg(feature = "tracing")]
    pub(super) fn enter(&self) -> tracing::span::Entered<'_> {
        self.span.enter()
    }
}
