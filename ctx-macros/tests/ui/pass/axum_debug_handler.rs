//! `#[ctx_fn]` on axum handlers checked by `#[axum::debug_handler]`, in
//! either order, served over a real socket. `debug_handler` takes no
//! generic fn, so the context is written as the extractor's
//! `Context<'static>` (an elided one is `ctx_fn_debug_handler_elided_scope`).
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ctx::http::ContextLayer;
use ctx::{ctx_fn, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

struct AppError(ctx::Error);

impl From<ctx::Error> for AppError {
    fn from(err: ctx::Error) -> Self {
        AppError(err)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        (StatusCode::SERVICE_UNAVAILABLE, self.0.to_string()).into_response()
    }
}

#[axum::debug_handler]
#[ctx_fn]
async fn above(ctx: Context<'static>) -> Result<String, AppError> {
    tokio::task::yield_now().await;
    Ok(format!("above, done: {}", ctx.is_done()))
}

#[ctx_fn]
#[axum::debug_handler]
async fn below(ctx: Context<'static>) -> Result<String, AppError> {
    tokio::task::yield_now().await;
    Ok(format!("below, done: {}", ctx.is_done()))
}

async fn get_body(addr: std::net::SocketAddr, path: &str) -> String {
    let mut client = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    client.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    client.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    response.split("\r\n\r\n").nth(1).unwrap().to_owned()
}

#[tokio::main]
async fn main() {
    let (root, shutdown) = Context::background().with_cancel();
    let app = Router::new()
        .route("/above", get(above))
        .route("/below", get(below))
        .layer(ContextLayer::new(root.clone()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                root.done().await;
            })
            .await
    });

    assert_eq!(get_body(addr, "/above").await, "above, done: false");
    assert_eq!(get_body(addr, "/below").await, "below, done: false");

    shutdown.cancel();
    server.await.unwrap().unwrap();
}
