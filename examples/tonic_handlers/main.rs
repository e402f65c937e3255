//! A tonic handler that uses its request's context: the deadline a client
//! sends in `grpc-timeout` reaches a `#[ctx_fn]` method, whose awaits stop
//! when it passes, and the client gets `DEADLINE_EXCEEDED`.
//!
//! tonic fixes a service method's signature, so `#[ctx_fn]` goes on a
//! plain method of the service, and the trait method lends it the
//! request's context: it splits the request, borrows the context from the
//! extensions (`ContextLayer` put it there), and calls the method with it.
//! The service here is written by hand (`greeter.rs`) where tonic-build
//! would generate it, so the example needs no protoc.
//!
//! Serves on a free loopback port, makes two calls, prints what the client
//! got, and shuts the server down:
//!
//! ```text
//! cargo run --example tonic_handlers --features tonic,macros
//! ```

mod greeter;
mod text_codec;

use std::time::Duration;

use ctx::http::client::{with_context, DeadlineLayer};
use ctx::http::{ContextLayer, MissingContext, RequestContextExt};
use ctx::{ctx_fn, Context};
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Endpoint, Server};
use tonic::{Request, Response, Status};
use tower::Layer;

use greeter::{Greeter, GreeterClient, GreeterServer};

/// The service: greets known people after a lookup that takes `lookup`.
struct Greetings {
    lookup: Duration,
}

#[tonic::async_trait]
impl Greeter for Greetings {
    async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status> {
        // The context is lent for as long as `extensions` lives: it can be
        // passed on and awaited under, not spawned away.
        let (_metadata, extensions, name) = request.into_parts();
        let ctx = extensions.context().ok_or(MissingContext)?;
        Ok(Response::new(self.greet(ctx, name).await?))
    }
}

impl Greetings {
    /// Every await here stops with `DEADLINE_EXCEEDED` once the caller's
    /// deadline has passed (`?` on `ctx::Error` gives the `Status`).
    #[ctx_fn]
    async fn greet(&self, ctx: Context, name: String) -> Result<String, Status> {
        if let Some(deadline) = ctx.deadline() {
            let left = deadline.saturating_duration_since(ctx::Instant::now());
            println!("server: greeting {name}, {left:?} left");
        }
        tokio::time::sleep(self.lookup).await;
        Ok(format!("hello, {name}"))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The server's root context: cancelling it shuts the server down.
    let (root, shutdown) = Context::background().with_cancel();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let service = GreeterServer::new(Greetings {
        lookup: Duration::from_millis(100),
    });
    let server = tokio::spawn(
        Server::builder()
            .layer(ContextLayer::new(root.clone()))
            .add_service(service)
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async move {
                root.done().await;
            }),
    );

    // The client sends each call's budget as `grpc-timeout`, and races the
    // call against its own context. It keeps no reserve: it has nothing to
    // do after the call.
    let channel = Endpoint::from_shared(format!("http://{addr}"))?.connect_lazy();
    let deadlines = DeadlineLayer::new().reserve(Duration::ZERO);
    let mut client = GreeterClient::new(deadlines.layer(channel));
    for budget in [Duration::from_secs(1), Duration::from_millis(50)] {
        let (ctx, cancel) = Context::background().with_timeout(budget);
        let call = client.say_hello(Request::new("ada".to_owned()));
        match with_context(&ctx, call).await {
            Ok(response) => println!("client, {budget:?} budget: {}", response.into_inner()),
            Err(status) => println!(
                "client, {budget:?} budget: {:?}: {}",
                status.code(),
                status.message()
            ),
        }
        cancel.cancel();
    }

    shutdown.cancel();
    server.await??;
    Ok(())
}
