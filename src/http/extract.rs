//! The axum extractor.

use std::ops::{Deref, DerefMut};

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::Context;

/// The request's [`Context`], as an axum extractor: write `Ctx(ctx): Ctx`
/// among a handler's arguments. It derefs to the context too.
///
/// It is the one the [`ContextLayer`](super::ContextLayer) made, so the
/// layer must wrap the route; without it, extraction fails with
/// [`MissingContext`] (a 500 that names the missing layer).
///
/// (`Context` lives in `ctx-core`, so Rust's orphan rule keeps this crate
/// from implementing axum's extractor trait on it directly; `Ctx` is the
/// newtype that does.)
///
/// ```
/// use axum::{body::Body, routing::get, Router};
/// use ctx::http::{ContextLayer, Ctx, RequestId};
/// use http::Request;
/// use tower::ServiceExt;
///
/// async fn who(Ctx(ctx): Ctx) -> String {
///     ctx.value::<RequestId>().unwrap().to_string()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/", get(who))
///     .layer(ContextLayer::new(ctx::Context::background()));
/// let request = Request::get("/").header("x-request-id", "req-7").body(Body::empty()).unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert_eq!(body, "req-7");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Ctx(pub Context);

impl Deref for Ctx {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.0
    }
}

impl DerefMut for Ctx {
    fn deref_mut(&mut self) -> &mut Context {
        &mut self.0
    }
}

impl From<Ctx> for Context {
    fn from(ctx: Ctx) -> Context {
        ctx.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = MissingContext;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Ctx, MissingContext> {
        parts
            .extensions
            .get::<Context>()
            .cloned()
            .map(Ctx)
            .ok_or(MissingContext)
    }
}

/// The rejection of [`Ctx`] when no [`ContextLayer`](super::ContextLayer)
/// wraps the route: `500 Internal Server Error`, since it is a server bug.
///
/// ```
/// use axum::response::IntoResponse;
///
/// let response = ctx::http::MissingContext.into_response();
/// assert_eq!(response.status(), 500);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingContext;

impl std::fmt::Display for MissingContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("no request context: wrap the router in ctx::http::ContextLayer")
    }
}

impl std::error::Error for MissingContext {}

impl IntoResponse for MissingContext {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}
