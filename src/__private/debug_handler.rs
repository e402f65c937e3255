//! What `ctx-macros`' `debug_handler.rs` generates: the context parameter
//! of a `#[ctx_fn]` handler under `#[axum::debug_handler]`.
//!
//! `debug_handler` takes no generic fn, so such a handler cannot be generic
//! over its context's scope: its parameter is the `'static` extractor
//! [`DebugHandlerContext`] instead, and the body starts with
//! `let ctx: Context<'_> = DebugHandlerContext::lend(&holder);`, so the
//! context it uses is borrowed from the parameter and still cannot outlive
//! the call.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use ctx_core::Context;

/// Extracts the request's context as a handler's `Context` does; the body
/// of the handler gets it through [`DebugHandlerContext::lend`].
#[derive(Debug)]
pub struct DebugHandlerContext(Context<'static>);

impl DebugHandlerContext {
    /// The request's context, for as long as this extractor is borrowed.
    #[inline]
    pub fn lend(&self) -> Context<'_> {
        self.0.clone()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for DebugHandlerContext {
    type Rejection = <Context<'static> as FromRequestParts<S>>::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        <Context<'static> as FromRequestParts<S>>::from_request_parts(parts, state)
            .await
            .map(DebugHandlerContext)
    }
}
