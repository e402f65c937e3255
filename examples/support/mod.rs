//! Loopback plumbing shared by the examples and the HTTP integration tests:
//! a tiny HTTP/1.1 client over a raw `TcpStream` (so a client can also walk
//! away mid-request, which is the point of the demos) and a server starter.
#![allow(dead_code)]

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use axum::Router;
use ctx::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A response as the raw client read it.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// A server on 127.0.0.1 serving `app` until `root` is done (graceful:
/// requests in flight finish).
pub struct Server {
    pub addr: SocketAddr,
    pub task: JoinHandle<io::Result<()>>,
}

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

fn encode(addr: SocketAddr, request: &http::Request<String>) -> Vec<u8> {
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-length: {}\r\n",
        request.method(),
        path,
        addr,
        request.body().len()
    );
    for (name, value) in request.headers() {
        head.push_str(&format!("{}: {}\r\n", name, value.to_str().unwrap_or("")));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(request.body().as_bytes());
    bytes
}

/// Sends `request` to `addr` and reads the whole response.
pub async fn send(addr: SocketAddr, request: http::Request<String>) -> io::Result<HttpResponse> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(&encode(addr, &request)).await?;
    read_response(&mut stream).await
}

/// Sends `request`, then either reads the response or, if `leave` finishes
/// first, closes the connection without reading it: a client that went away.
/// `Ok(None)` means the client left.
pub async fn send_or_leave(
    addr: SocketAddr,
    request: http::Request<String>,
    leave: impl Future<Output = ()>,
) -> io::Result<Option<HttpResponse>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(&encode(addr, &request)).await?;
    tokio::select! {
        response = read_response(&mut stream) => response.map(Some),
        () = leave => Ok(None), // `stream` is dropped: the connection closes
    }
}

async fn read_response(stream: &mut TcpStream) -> io::Result<HttpResponse> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_response(&raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad HTTP response"))
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk(&body)?;
    }
    Some(HttpResponse {
        status,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// A small deterministic pseudo-random sequence (xorshift), so runs are
/// reproducible without a `rand` dependency.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}
