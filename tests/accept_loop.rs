//! A `#[ctx_fn]` accept loop spawns each connection's work with
//! `ctx.spawn`, the visible door for work that ends with the context: it
//! compiles, and cancelling the server's context ends the loop and every
//! connection, over real sockets.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ctx::{ctx_fn, Context};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Greets the client, then serves it until the context ends.
#[ctx_fn]
async fn serve_connection(
    ctx: Context,
    mut socket: TcpStream,
    ended: Arc<AtomicUsize>,
) -> Result<(), io::Error> {
    struct Ended(Arc<AtomicUsize>);
    impl Drop for Ended {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let _ended = Ended(ended);
    socket.write_all(b"hello\n").await?;
    let mut buf = [0; 64];
    loop {
        if socket.read(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

#[ctx_fn]
async fn accept_loop(
    ctx: Context,
    listener: TcpListener,
    accepted: mpsc::UnboundedSender<()>,
    ended: Arc<AtomicUsize>,
) -> Result<(), io::Error> {
    loop {
        let (socket, _) = listener.accept().await?;
        let ended = ended.clone();
        // `tokio::spawn(serve_connection(ctx.clone(), ..))` would not
        // compile: the connection's work would outlive `ctx`'s scope.
        drop(ctx.spawn(move |ctx| Box::pin(serve_connection(ctx, socket, ended))));
        accepted.send(()).unwrap();
    }
}

#[tokio::test]
async fn cancelling_the_server_context_ends_the_loop_and_every_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (root, shutdown) = Context::background().with_cancel();
    let (accepted, mut accepted_rx) = mpsc::unbounded_channel();
    let ended = Arc::new(AtomicUsize::new(0));
    let server = tokio::spawn(accept_loop(root, listener, accepted, ended.clone()));

    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut client = TcpStream::connect(address).await.unwrap();
        let mut greeting = [0; 6];
        client.read_exact(&mut greeting).await.unwrap();
        assert_eq!(&greeting, b"hello\n");
        accepted_rx.recv().await.unwrap();
        clients.push(client);
    }
    assert_eq!(
        ended.load(Ordering::SeqCst),
        0,
        "connections live while the server is"
    );

    shutdown.cancel();
    let stopped = server.await.unwrap().unwrap_err();
    assert_eq!(
        stopped
            .get_ref()
            .and_then(|e| e.downcast_ref::<ctx::Error>()),
        Some(&ctx::Error::Canceled)
    );
    for mut client in clients {
        let mut rest = Vec::new();
        // The server side was dropped: the client reads end of stream.
        assert_eq!(client.read_to_end(&mut rest).await.unwrap(), 0);
    }
    assert_eq!(ended.load(Ordering::SeqCst), 3);
}
