//! `#[ctx_fn]` above `#[axum::debug_handler]` on axum handlers, served over
//! a real socket, with the context written as in any `#[ctx_fn]` (never
//! `'static`): by name, `mut`, unnamed, or left out and inserted. The
//! other order is `ctx_fn_below_debug_handler` (compile-fail).
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

#[ctx_fn]
#[axum::debug_handler]
async fn named(ctx: Context) -> Result<String, AppError> {
    tokio::task::yield_now().await;
    Ok(format!("named, done: {}", ctx.is_done()))
}

#[ctx_fn]
#[axum::debug_handler]
async fn rebound(mut ctx: Context) -> Result<String, AppError> {
    let (child, _cancel) = ctx.with_timeout(std::time::Duration::from_secs(5));
    ctx = child;
    tokio::task::yield_now().await;
    Ok(format!("rebound, deadline: {}", ctx.deadline().is_some()))
}

#[ctx_fn]
#[axum::debug_handler]
async fn unnamed(_: Context) -> Result<String, AppError> {
    tokio::task::yield_now().await;
    Ok("unnamed".to_owned())
}

#[ctx_fn]
#[axum::debug_handler]
async fn inserted() -> Result<String, AppError> {
    tokio::task::yield_now().await;
    Ok(format!("inserted, done: {}", ctx.is_done()))
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
        .route("/named", get(named))
        .route("/rebound", get(rebound))
        .route("/unnamed", get(unnamed))
        .route("/inserted", get(inserted))
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

    assert_eq!(get_body(addr, "/named").await, "named, done: false");
    assert_eq!(get_body(addr, "/rebound").await, "rebound, deadline: true");
    assert_eq!(get_body(addr, "/unnamed").await, "unnamed");
    assert_eq!(get_body(addr, "/inserted").await, "inserted, done: false");

    shutdown.cancel();
    server.await.unwrap().unwrap();
}
