//! Graceful shutdown with detached work in flight.
//!
//! The server answers `POST /jobs` at once and finishes each job in the
//! background (`#[detached]`, so the job keeps the request's trace id but
//! not its cancellation). On Ctrl-C or SIGTERM, or by itself after
//! `--serve-for` seconds when run unattended, it stops accepting, cancels
//! the requests in flight (their contexts are children of the server's
//! root), then waits, with a bound, for the detached jobs to finish.
//!
//! ```sh
//! cargo run --example graceful_shutdown --features axum
//! cargo run --example graceful_shutdown --features axum -- --serve-for 30   # then press Ctrl-C
//! ```

#[path = "support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use ctx::http::{ContextLayer, TraceId};
use ctx::{detached, Context};

static JOBS_DONE: AtomicUsize = AtomicUsize::new(0);

/// How long the server waits for detached work once shutdown starts.
const DRAIN_BOUND: Duration = Duration::from_secs(5);

/// The job: slow work after the response, with a budget of its own.
#[detached(timeout = "10s")]
async fn run_job(ctx: Context, n: usize) -> Result<(), ctx::Error> {
    let trace = ctx
        .value::<TraceId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    // 1 s to 3.4 s: jobs 2 to 4 are still running when the unattended
    // timer (2 s) shuts the server down, so the drain has work to wait for.
    tokio::time::sleep(Duration::from_millis(1000 + 600 * n as u64)).await;
    JOBS_DONE.fetch_add(1, Ordering::SeqCst);
    println!("  job {n} done (trace {trace})");
    Ok(())
}

async fn submit(ctx: Context<'_>, body: String) -> String {
    let n: usize = body.trim().parse().unwrap_or(0);
    drop(run_job(ctx.clone(), n)); // detached: runs on after the response
    format!("job {n} accepted\n")
}

/// Ctrl-C, SIGTERM, or the unattended timer, whichever comes first.
async fn shutdown_signal(serve_for: Duration) -> &'static str {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => "Ctrl-C",
        () = terminate => "SIGTERM",
        () = tokio::time::sleep(serve_for) => "the unattended timer",
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut serve_for = Duration::from_secs(2);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (
            flag.as_str(),
            args.next().and_then(|v| v.parse::<u64>().ok()),
        ) {
            ("--serve-for", Some(secs)) => serve_for = Duration::from_secs(secs.min(3600)),
            _ => {
                eprintln!("usage: graceful_shutdown [--serve-for SECONDS]");
                std::process::exit(2);
            }
        }
    }

    let (root, shutdown) = Context::background().with_cancel_cause();
    let app = Router::new()
        .route("/jobs", post(submit))
        .layer(ContextLayer::new(root.clone()));
    let server = support::serve(app, root.clone()).await?;
    println!(
        "serving on http://{} for {serve_for:?} (Ctrl-C or SIGTERM to stop sooner)",
        server.addr
    );

    // A few clients submit jobs; each is answered at once.
    for n in 0..5 {
        let request = http::Request::post("/jobs").body(n.to_string()).unwrap();
        let response = support::send(server.addr, request).await?;
        print!("  {} {}", response.status, response.body);
    }
    println!("  detached jobs running: {}", ctx::detached_running());

    let why = shutdown_signal(serve_for).await;
    println!("shutting down ({why}): no new connections; requests in flight are cancelled");
    shutdown.cancel(format!("server shutdown ({why})"));
    let _ = server.task.await;

    println!(
        "waiting up to {DRAIN_BOUND:?} for {} detached jobs",
        ctx::detached_running()
    );
    let (bound, _cancel) = Context::background().with_timeout(DRAIN_BOUND);
    let start = ctx::Instant::now();
    match ctx::wait_detached(&bound).await {
        Ok(()) => println!(
            "all detached work finished in {:?}: {} jobs done, none lost",
            start.elapsed(),
            JOBS_DONE.load(Ordering::SeqCst)
        ),
        Err(error) => println!(
            "gave up after {:?} ({error}): {} jobs still running",
            start.elapsed(),
            ctx::detached_running()
        ),
    }
    Ok(())
}
