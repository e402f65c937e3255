//! A `#[ctx_fn]` accept loop spawning per-connection work with
//! `ctx.spawn`: each connection gets a child of the server's context, with
//! a scope its work cannot keep, and shutting the server down cancels the
//! loop and every connection.
use std::io;

use ctx::{ctx_fn, Context, SpawnHandle};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

type Connection = SpawnHandle<io::Result<usize>>;

/// Reads until the client hangs up, which these clients never do.
#[ctx_fn]
async fn handle(ctx: Context, mut socket: TcpStream) -> io::Result<usize> {
    let mut read = 0;
    let mut buf = [0; 64];
    loop {
        match socket.read(&mut buf).await? {
            0 => return Ok(read),
            n => read += n,
        }
    }
}

#[ctx_fn]
async fn serve(
    ctx: Context,
    listener: TcpListener,
    connections: UnboundedSender<Connection>,
) -> io::Result<()> {
    loop {
        let (socket, _) = listener.accept().await?;
        let _ = connections.send(ctx.spawn(|ctx| Box::pin(handle(ctx, socket))));
    }
}

// One thread, so the shutdown never lands while a connection's task is
// being polled: then the task's `handle` could see the cancellation at its
// own checked await first and return its error as its output (which
// `spawn` hands back rather than drop), instead of `spawn` reporting it.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (server, shutdown) = Context::background().with_cancel();
    let (connections, mut accepted) = unbounded_channel();
    let serving = tokio::spawn(serve(server, listener, connections));

    let _a = TcpStream::connect(addr).await.unwrap();
    let _b = TcpStream::connect(addr).await.unwrap();
    let first = accepted.recv().await.unwrap();
    let second = accepted.recv().await.unwrap();

    shutdown.cancel();
    let stopped = serving.await.unwrap().unwrap_err();
    assert_eq!(
        stopped.get_ref().and_then(|e| e.downcast_ref::<ctx::Error>()),
        Some(&ctx::Error::Canceled)
    );
    assert!(matches!(first.await.unwrap(), Err(ctx::Error::Canceled)));
    assert!(matches!(second.await.unwrap(), Err(ctx::Error::Canceled)));
}
