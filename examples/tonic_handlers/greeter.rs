//! The service `greeter.Greeter` with one unary method, `SayHello`
//! (a name in, a greeting out), written by hand as tonic-build would
//! generate it from a `.proto` file: the trait a server implements, the
//! tower service that serves it, and a client. Only the codec differs (see
//! `text_codec`). What a user writes is the `impl Greeter`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::uri::PathAndQuery;
use tonic::body::Body;
use tonic::client::GrpcService;
use tonic::server::{NamedService, UnaryService};
use tonic::{Request, Response, Status};

use super::text_codec::TextCodec;

const SAY_HELLO: &str = "/greeter.Greeter/SayHello";

/// The server side of `greeter.Greeter`.
#[tonic::async_trait]
pub trait Greeter: Send + Sync + 'static {
    /// `SayHello`: greets the name in the request.
    async fn say_hello(&self, request: Request<String>) -> Result<Response<String>, Status>;
}

/// Serves a [`Greeter`] (add it to a `tonic::transport::Server`).
pub struct GreeterServer<T>(Arc<T>);

impl<T> GreeterServer<T> {
    pub fn new(greeter: T) -> Self {
        GreeterServer(Arc::new(greeter))
    }
}

impl<T> Clone for GreeterServer<T> {
    fn clone(&self) -> Self {
        GreeterServer(self.0.clone())
    }
}

impl<T> NamedService for GreeterServer<T> {
    const NAME: &'static str = "greeter.Greeter";
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<T: Greeter> tower::Service<http::Request<Body>> for GreeterServer<T> {
    type Response = http::Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        if request.uri().path() != SAY_HELLO {
            return Box::pin(async { Ok(Status::unimplemented("").into_http()) });
        }
        let method = SayHello(self.0.clone());
        Box::pin(async move {
            Ok(tonic::server::Grpc::new(TextCodec)
                .unary(method, request)
                .await)
        })
    }
}

/// `SayHello` as tonic's server runs a unary method.
struct SayHello<T>(Arc<T>);

impl<T: Greeter> UnaryService<String> for SayHello<T> {
    type Response = String;
    type Future = BoxFuture<Result<Response<String>, Status>>;

    fn call(&mut self, request: Request<String>) -> Self::Future {
        let greeter = self.0.clone();
        Box::pin(async move { greeter.say_hello(request).await })
    }
}

/// A client of `greeter.Greeter` over any gRPC transport: a channel, or a
/// channel under `ctx::http::client::DeadlineLayer`.
pub struct GreeterClient<T>(tonic::client::Grpc<T>);

impl<T> GreeterClient<T>
where
    T: GrpcService<Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    <T::ResponseBody as http_body::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    pub fn new(transport: T) -> Self {
        GreeterClient(tonic::client::Grpc::new(transport))
    }

    /// Calls `SayHello`.
    pub async fn say_hello(
        &mut self,
        request: Request<String>,
    ) -> Result<Response<String>, Status> {
        self.0
            .ready()
            .await
            .map_err(|error| Status::unavailable(error.into().to_string()))?;
        let path = PathAndQuery::from_static(SAY_HELLO);
        self.0.unary(request, path, TextCodec).await
    }
}
