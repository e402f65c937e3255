//! An HTTP/1.1 client for the loopback servers: hyper-util's, with the
//! whole body read as text.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use http::uri::{PathAndQuery, Uri};
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Sends `request` (its URI a path, such as `/search?q=rust`) to the
/// server at `addr`, and reads the whole response, body as text.
///
/// ```no_run
/// # #[tokio::main]
/// # async fn main() -> std::io::Result<()> {
/// let addr = "127.0.0.1:8080".parse().unwrap();
/// let request = http::Request::get("/").body(String::new()).unwrap();
/// let response = ctx_examples_support::send(addr, request).await?;
/// println!("{} {}", response.status(), response.body());
/// # Ok(())
/// # }
/// ```
pub async fn send(addr: SocketAddr, request: Request<String>) -> io::Result<Response<String>> {
    let (mut parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().cloned();
    parts.uri = Uri::builder()
        .scheme("http")
        .authority(addr.to_string())
        .path_and_query(path.unwrap_or_else(|| PathAndQuery::from_static("/")))
        .build()
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error))?;
    // A connection per request, closed once the response is read (no
    // pool), so servers see each client come and go.
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build_http();
    let response = client
        .request(Request::from_parts(parts, body))
        .await
        .map_err(io::Error::other)?;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.map_err(io::Error::other)?.to_bytes();
    let text = String::from_utf8(bytes.into())
        .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    Ok(Response::from_parts(parts, text))
}

/// Sends `request` like [`send`], unless `leave` finishes first: then the
/// client walks away, closing its connection without waiting for the
/// response. `Ok(None)` means the client left.
///
/// ```no_run
/// use std::time::Duration;
///
/// # #[tokio::main]
/// # async fn main() -> std::io::Result<()> {
/// let addr = "127.0.0.1:8080".parse().unwrap();
/// let request = http::Request::get("/slow").body(String::new()).unwrap();
/// let impatient = tokio::time::sleep(Duration::from_millis(10));
/// match ctx_examples_support::send_or_leave(addr, request, impatient).await? {
///     Some(response) => println!("{}", response.status()),
///     None => println!("left before the response"),
/// }
/// # Ok(())
/// # }
/// ```
pub async fn send_or_leave(
    addr: SocketAddr,
    request: Request<String>,
    leave: impl Future<Output = ()>,
) -> io::Result<Option<Response<String>>> {
    tokio::select! {
        response = send(addr, request) => response.map(Some),
        // The request is dropped, and with it the client and its
        // connection: the server sees the client go away.
        () = leave => Ok(None),
    }
}
