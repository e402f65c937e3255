//! `Context` as an axum extractor (feature `axum`).
//!
//! It lives here, beside `Context`, because Rust's orphan rule lets only
//! the crate of the type or of the trait implement one for the other.

use std::fmt;

use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use http::StatusCode;

use crate::request::RequestContext;
use crate::Context;

/// A handler takes the request's context as an argument, `ctx: Context<'_>`:
/// the one `ctx::http::ContextLayer` made (a child of the server's root
/// context, cancelled when the response, body included, has been sent or
/// the client goes away), or the child a middleware put in its place.
/// Without the layer around the route, extraction fails with
/// [`MissingContext`].
///
/// Write the scope `'_`: the handler is then generic over it, and moving
/// the context into work that outlives the request does not compile. axum
/// extracts only `'static` types, so the context is extracted as a
/// `Context<'static>`; a handler that spells its parameter so has switched
/// the compile-time check off, and work that waits on the context after
/// the response was sent is reported at run time, naming its place.
///
/// ```
/// use axum::{body::Body, routing::get, Router};
/// use ctx::http::{ContextLayer, RequestId};
/// use ctx::Context;
/// use http::Request;
/// use tower::ServiceExt;
///
/// async fn who(ctx: Context<'_>) -> String {
///     ctx.value::<RequestId>().unwrap().to_string()
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let app = Router::new()
///     .route("/", get(who))
///     .layer(ContextLayer::new(Context::background()));
/// let request = Request::get("/").header("x-request-id", "req-7").body(Body::empty()).unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
/// assert_eq!(body, "req-7");
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl<S: Send + Sync> FromRequestParts<S> for Context<'static> {
    type Rejection = MissingContext;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Context<'static>, MissingContext> {
        parts
            .extensions
            .get::<RequestContext>()
            .map(RequestContext::extracted)
            .ok_or(MissingContext)
    }
}

/// The rejection of the [`Context`] extractor when no
/// `ctx::http::ContextLayer` wraps the route: `500 Internal Server Error`,
/// since it is a server bug, with a body that names the missing layer.
///
/// ```
/// use axum::response::IntoResponse;
///
/// let response = ctx::http::MissingContext.into_response();
/// assert_eq!(response.status(), 500);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingContext;

impl fmt::Display for MissingContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no request context: wrap the router in ctx::http::ContextLayer")
    }
}

impl std::error::Error for MissingContext {}

impl IntoResponse for MissingContext {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

/// The missing layer as a gRPC status (feature `tonic`), `INTERNAL` as it
/// is a server bug, so a tonic handler borrows the request's context with
/// `?`: `extensions.context().ok_or(MissingContext)?`.
///
/// ```
/// let status = tonic::Status::from(ctx::http::MissingContext);
/// assert_eq!(status.code(), tonic::Code::Internal);
/// ```
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
impl From<MissingContext> for tonic::Status {
    fn from(missing: MissingContext) -> tonic::Status {
        tonic::Status::internal(missing.to_string())
    }
}
