//! `Shutdown::serve` on the process's real termination signals: a server
//! in a child process (this test binary, run again as the ignored
//! [`child_server`]) gets a request, then SIGTERM or SIGINT from `kill`;
//! the request in flight is answered, and the child prints its shutdown
//! report and exits successfully.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Lines, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use ctx::http::Shutdown;

/// Set in the child's environment: run [`child_server`] for real.
const CHILD: &str = "CTX_SHUTDOWN_SIGNAL_CHILD";

/// How long the parent waits for each step of the child before failing
/// (a hung child fails the test instead of hanging it).
const STEP_BOUND: Duration = Duration::from_secs(30);

/// The child: serves `GET /slow` until SIGTERM or SIGINT. The handler
/// says on stdout when it is in flight, then answers once the parent
/// writes a line to its stdin; the report goes to stdout at the end.
#[test]
#[ignore = "the child process of `sigterm_*` and `sigint_*`, which run it"]
fn child_server() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let shutdown = Shutdown::new();
        let slow = || async {
            println!("in flight");
            let mut line = String::new();
            let mut stdin = tokio::io::BufReader::new(tokio::io::stdin());
            tokio::io::AsyncBufReadExt::read_line(&mut stdin, &mut line)
                .await
                .unwrap();
            "finished"
        };
        let app = Router::new()
            .route("/slow", get(slow))
            .layer(shutdown.layer());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!("listening on {}", listener.local_addr().unwrap());
        let report = shutdown.serve(axum::serve(listener, app)).await.unwrap();
        println!("report: {report}");
    });
}

/// The child, started: this test binary running [`child_server`] alone.
struct ChildServer {
    process: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl ChildServer {
    fn start() -> ChildServer {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args(["child_server", "--exact", "--ignored", "--nocapture"])
            .env(CHILD, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = BufReader::new(process.stdout.take().unwrap()).lines();
        ChildServer { process, stdout }
    }

    /// What follows `marker` on the first stdout line that has it (the
    /// test harness may have written the test's name before it).
    fn line_after(&mut self, marker: &str) -> String {
        for line in &mut self.stdout {
            let line = line.unwrap();
            if let Some((_, rest)) = line.split_once(marker) {
                return rest.to_owned();
            }
        }
        panic!("the child's stdout ended before a line with {marker:?}");
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.process.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{name} failed: {status}");
    }

    /// Lets the handler in flight answer.
    fn release_handler(&mut self) {
        let stdin = self.process.stdin.as_mut().unwrap();
        stdin.write_all(b"go\n").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // A failed test leaves no server behind.
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Connects to `addr` until the connection is refused (the server stopped
/// accepting: its shutdown began) or the bound is spent.
fn wait_until_refused(addr: SocketAddr) {
    let start = Instant::now();
    while TcpStream::connect(addr).is_ok() {
        assert!(
            start.elapsed() < STEP_BOUND,
            "the server still accepts connections after the signal"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn request_in_flight_finishes_on(signal: &str) {
    let mut child = ChildServer::start();
    let addr: SocketAddr = child.line_after("listening on ").parse().unwrap();

    let mut client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(STEP_BOUND)).unwrap();
    client
        .write_all(b"GET /slow HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    child.line_after("in flight");

    child.signal(signal);
    wait_until_refused(addr);
    child.release_handler();

    let mut response = String::new();
    client.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    assert!(response.ends_with("\r\n\r\nfinished"), "{response}");

    let report = child.line_after("report: ");
    assert_eq!(
        report,
        "1 requests in flight at the signal, 0 cancelled after the grace period, 0 unfinished; \
         detached work: 0 finished, 0 failed, 0 timed out, 0 panicked, 0 dropped unfinished; \
         0 still running"
    );
    let status = child.process.wait().unwrap();
    assert!(status.success(), "the child exited with {status}");
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits() {
    request_in_flight_finishes_on("TERM");
}

#[test]
fn sigint_lets_the_request_in_flight_finish_then_exits() {
    request_in_flight_finishes_on("INT");
}
