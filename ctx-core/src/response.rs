//! `ctx::Error` as an axum response (feature `axum`), so a handler can
//! return `Result<T, ctx::Error>` and use `?` on a context's error. Here,
//! beside `Error`, for Rust's orphan rule.

use axum_core::response::{IntoResponse, Response};

use crate::Error;

/// A request that ran out of its context: `504 Gateway Timeout` for
/// [`Error::DeadlineExceeded`] (the budget, often the caller's, ran out);
/// `503 Service Unavailable` for [`Error::Canceled`]. The body is the
/// error's message, Go's.
///
/// Why 503 for a cancellation rather than nginx's `499 Client Closed
/// Request`: a status only reaches someone who is still listening. When the
/// client went away, nobody reads it (499 would only decorate the server's
/// logs); when it did not, the context was cancelled by the server's side
/// (a shutdown, an upstream that gave up), and 503 is the standard status
/// for that, which clients, proxies and load balancers know to retry
/// elsewhere. 499 is not in any standard and many clients treat it as an
/// unknown 4xx: the client's fault, not worth a retry.
///
/// ```
/// use axum::{body::Body, response::IntoResponse, routing::get, Router};
/// use ctx::Context;
/// use http::Request;
/// use tower::ServiceExt;
///
/// async fn search(ctx: Context<'_>) -> Result<String, ctx::Error> {
///     ctx.run(tokio::time::sleep(std::time::Duration::from_secs(5))).await?;
///     Ok("results".to_owned())
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let app = Router::new()
///     .route("/", get(search))
///     .layer(ctx::http::ContextLayer::new(Context::background()));
/// let request = Request::get("/").header("grpc-timeout", "1S").body(Body::empty()).unwrap();
/// let response = app.oneshot(request).await.unwrap();
/// assert_eq!(response.status(), 504);
/// let body = axum::body::to_bytes(response.into_body(), 64).await.unwrap();
/// assert_eq!(body, "context deadline exceeded");
///
/// assert_eq!(ctx::Error::Canceled.into_response().status(), 503);
/// # }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (self.http_status(), self.to_string()).into_response()
    }
}
