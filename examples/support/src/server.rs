//! A server on loopback that stops with a context.

use std::io;
use std::net::SocketAddr;

use axum::Router;
use ctx::Context;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A server on 127.0.0.1, serving until its root context is done.
#[derive(Debug)]
pub struct Server {
    /// Where it listens (a free port, chosen by the system).
    pub addr: SocketAddr,
    /// The server itself: ends once the root is done and every connection
    /// has finished.
    pub task: JoinHandle<io::Result<()>>,
}

/// Serves `app` on a free port of 127.0.0.1 until `root` is done, then
/// shuts down gracefully: no new connections, requests in flight finish.
/// Handlers can take the peer's address (`ConnectInfo<SocketAddr>`).
///
/// ```
/// use axum::{routing::get, Router};
/// use ctx::Context;
///
/// # #[tokio::main]
/// # async fn main() -> std::io::Result<()> {
/// let (root, shutdown) = Context::background().with_cancel();
/// let server = ctx_examples_support::serve(Router::new().route("/", get(|| async { "hi" })), root).await?;
/// assert!(server.addr.ip().is_loopback());
/// shutdown.cancel();
/// server.task.await??;
/// # Ok(())
/// # }
/// ```
pub async fn serve(app: Router, root: Context<'static>) -> io::Result<Server> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    let task = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                root.done().await;
            })
            .await
    });
    Ok(Server { addr, task })
}
