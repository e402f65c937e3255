//! A graceful shutdown under load, on loopback: clients keep ordering while
//! the server is told to stop. Run by the `graceful_shutdown` example
//! (`--load`) and its integration test.
//!
//! Each order takes the handler a little work, then publishes it in the
//! background (`#[detached]`) and answers. Mid-load, the shutdown signal
//! comes (a real SIGTERM in the example); `ctx::http::Shutdown` stops
//! accepting, lets the orders in flight finish, cancels what is left,
//! drains the publishes. What to expect: no order the server accepted gets
//! an error, no publish is lost; the clients that came after the signal
//! find the door closed (connection refused or closed unanswered).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::Router;
use ctx::http::{Shutdown, ShutdownReport};
use ctx::{detached, Context};
use tokio::sync::{Notify, Semaphore};

use crate::send;

/// The knobs of one run.
#[derive(Clone, Debug)]
pub struct Config {
    /// Orders sent in all (some after the signal, to a closed door).
    pub requests: usize,
    /// Orders in flight at once.
    pub concurrency: usize,
    /// The handler's work per order.
    pub work: Duration,
    /// A publish's latency.
    pub publish: Duration,
    /// Answers received before the shutdown signal.
    pub signal_after: usize,
    /// How long the requests in flight may take to finish after the
    /// signal.
    pub grace: Duration,
    /// How long the shutdown waits for detached work.
    pub drain: Duration,
    /// The signal: a real SIGTERM sent to this process (unix), or an
    /// in-process one (tests, which share their process).
    pub sigterm: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            requests: 2_000,
            concurrency: 64,
            work: Duration::from_millis(20),
            publish: Duration::from_millis(50),
            signal_after: 1_000,
            grace: Duration::from_secs(5),
            drain: Duration::from_secs(5),
            sigterm: false,
        }
    }
}

/// What the clients and the server saw.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Orders sent.
    pub sent: usize,
    /// `200 OK`.
    pub ok: usize,
    /// Any other status: an accepted order that failed.
    pub error_responses: usize,
    /// No response: refused, or closed before answering (the server had
    /// stopped accepting).
    pub not_served: usize,
    /// Publishes the handlers started.
    pub publishes: usize,
    /// Publishes that completed.
    pub published: usize,
    /// `publishes - published`.
    pub lost: usize,
    /// The shutdown's own report.
    pub report: ShutdownReport,
    /// From the signal to the end of the shutdown.
    pub shutdown_took: Duration,
}

#[derive(Clone)]
struct App {
    work: Duration,
    publish: Duration,
    publishes: Arc<AtomicUsize>,
    published: Arc<AtomicUsize>,
}

/// An order: some work under the request's context (a shutdown that
/// cancels it answers 503, `ctx::Error`'s response), then a background
/// publish.
async fn order(
    State(app): State<App>,
    ctx: Context<'_>,
    body: String,
) -> Result<String, ctx::Error> {
    ctx.run(tokio::time::sleep(app.work)).await?;
    app.publishes.fetch_add(1, Ordering::SeqCst);
    publish(ctx.clone(), app.clone());
    Ok(format!("{body} accepted\n"))
}

#[detached(timeout = "10s")]
async fn publish(ctx: Context, app: App) -> Result<(), ctx::Error> {
    tokio::time::sleep(app.publish).await;
    app.published.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// Serves, loads, signals mid-load, and reports.
pub async fn run(config: &Config) -> std::io::Result<Outcome> {
    let app = App {
        work: config.work,
        publish: config.publish,
        publishes: Arc::default(),
        published: Arc::default(),
    };
    let shutdown = Shutdown::new().grace(config.grace).drain(config.drain);
    let router = Router::new()
        .route("/order", post(order))
        .layer(shutdown.layer())
        .with_state(app.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;

    let signalled = Arc::new(Notify::new());
    let signal_at = Arc::new(Mutex::new(None));
    let signal = shutdown_signal(config.sigterm, signalled.clone(), signal_at.clone())?;
    let server = tokio::spawn(shutdown.serve_with_signal(axum::serve(listener, router), signal));

    // The load: `requests` orders, `concurrency` at a time.
    let answered = Arc::new(AtomicUsize::new(0));
    let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut clients = Vec::with_capacity(config.requests);
    for n in 0..config.requests {
        let permit = permits.clone().acquire_owned().await.unwrap();
        let (answered, trigger) = (answered.clone(), signalled.clone());
        let (signal_after, sigterm) = (config.signal_after, config.sigterm);
        clients.push(tokio::spawn(async move {
            let _permit = permit;
            let request = http::Request::post("/order")
                .body(format!("order-{n}"))
                .unwrap();
            let response = send(addr, request).await;
            if response.is_ok() && answered.fetch_add(1, Ordering::SeqCst) + 1 == signal_after {
                send_signal(sigterm, &trigger);
            }
            response.map(|response| response.status().as_u16())
        }));
    }
    let (mut ok, mut error_responses, mut not_served) = (0, 0, 0);
    for client in clients {
        match client.await.unwrap() {
            Ok(200) => ok += 1,
            Ok(_) => error_responses += 1,
            Err(_) => not_served += 1,
        }
    }

    let report = server.await.unwrap()?;
    let shutdown_took = signal_at
        .lock()
        .unwrap()
        .map_or(Duration::ZERO, |at| at.elapsed());
    let publishes = app.publishes.load(Ordering::SeqCst);
    let published = app.published.load(Ordering::SeqCst);
    Ok(Outcome {
        sent: config.requests,
        ok,
        error_responses,
        not_served,
        publishes,
        published,
        lost: publishes - published,
        report,
        shutdown_took,
    })
}

/// The future `Shutdown::serve_with_signal` waits on; it notes when the
/// signal came.
/// A SIGTERM handler is installed here, before any load, so the signal
/// cannot arrive unhandled.
fn shutdown_signal(
    sigterm: bool,
    signalled: Arc<Notify>,
    signal_at: Arc<Mutex<Option<Instant>>>,
) -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let terminate = match sigterm {
        true => Some(tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        )?),
        false => None,
    };
    #[cfg(not(unix))]
    let _ = sigterm;
    Ok(async move {
        #[cfg(unix)]
        if let Some(mut terminate) = terminate {
            tokio::select! {
                _ = terminate.recv() => {}
                () = signalled.notified() => {}
            }
            *signal_at.lock().unwrap() = Some(Instant::now());
            return;
        }
        signalled.notified().await;
        *signal_at.lock().unwrap() = Some(Instant::now());
    })
}

fn send_signal(sigterm: bool, signalled: &Notify) {
    if sigterm && cfg!(unix) {
        let pid = std::process::id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        if sent.is_ok_and(|status| status.success()) {
            return;
        }
        eprintln!("could not send SIGTERM with `kill`: signalling in-process instead");
    }
    signalled.notify_one();
}
