//! Graceful shutdown, as Go's `http.Server.Shutdown`, with
//! `ctx::http::Shutdown`.
//!
//! The server answers `POST /jobs` at once and finishes each job in the
//! background (`#[detached]`, so the job keeps the request's trace id but
//! not its cancellation). On Ctrl-C or SIGTERM (which it sends itself
//! after `--serve-for` seconds, to run unattended), it stops accepting,
//! lets the requests in flight finish (within a grace period), cancels the
//! server's root context (and whatever still runs under it), then waits,
//! with a bound, for the detached jobs, and prints what was cut off.
//!
//! `--load N` measures the same under load instead: N orders from 64
//! clients on loopback, a real SIGTERM sent to this process halfway, and
//! the counts: answered, errors, turned away, publishes lost. With
//! `--grace-ms 0` the root is cancelled at the signal, as the pattern
//! before `Shutdown` did: watch the requests in flight fail.
//!
//! ```sh
//! cargo run --example graceful_shutdown --features axum
//! cargo run --example graceful_shutdown --features axum -- --serve-for 30   # then press Ctrl-C
//! cargo run --release --example graceful_shutdown --features axum -- --load 2000
//! cargo run --release --example graceful_shutdown --features axum -- --load 2000 --grace-ms 0
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use ctx::http::{Shutdown, TraceId};
use ctx::{detached, Context};
use ctx_examples_support::{send, shutdown_load};

static JOBS_DONE: AtomicUsize = AtomicUsize::new(0);

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
    run_job(ctx.clone(), n); // detached: runs on after the response
    format!("job {n} accepted\n")
}

/// The unattended timer: after `serve_for`, a SIGTERM to this process, as
/// Kubernetes or systemd would send (where there is no `kill`, a note to
/// press Ctrl-C).
async fn sigterm_after(serve_for: Duration) {
    tokio::time::sleep(serve_for).await;
    let pid = std::process::id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    if sent.is_ok_and(|status| status.success()) {
        println!(
            "the unattended timer sent SIGTERM: no new connections; requests in flight may finish"
        );
    } else {
        println!("could not send SIGTERM with `kill`: press Ctrl-C to shut down");
    }
}

fn usage() -> ! {
    eprintln!("usage: graceful_shutdown [--serve-for SECONDS | --load REQUESTS [--grace-ms MS]]");
    std::process::exit(2)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut serve_for = Duration::from_secs(2);
    let mut load = None;
    let mut grace = shutdown_load::Config::default().grace;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| usage());
        match flag.as_str() {
            "--serve-for" => serve_for = Duration::from_secs(value.min(3600)),
            "--load" => load = Some(value.clamp(2, 100_000) as usize),
            "--grace-ms" => grace = Duration::from_millis(value.min(60_000)),
            _ => usage(),
        }
    }
    if let Some(requests) = load {
        return measure_under_load(requests, grace).await;
    }

    let shutdown = Shutdown::new()
        .grace(Duration::from_secs(5))
        .drain(Duration::from_secs(5));
    let detached = shutdown.detached().clone();
    let app = Router::new()
        .route("/jobs", post(submit))
        .layer(shutdown.layer());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("serving on http://{addr} for {serve_for:?} (Ctrl-C or SIGTERM to stop sooner)");
    // Until SIGTERM or Ctrl-C: `serve` listens for both.
    let server = tokio::spawn(shutdown.serve(axum::serve(listener, app)));
    tokio::spawn(sigterm_after(serve_for));

    // A few clients submit jobs; each is answered at once.
    for n in 0..5 {
        let request = http::Request::post("/jobs").body(n.to_string()).unwrap();
        let response = send(addr, request).await?;
        print!("  {} {}", response.status().as_u16(), response.body());
    }
    println!("  detached jobs running: {}", detached.running());

    let report = server.await.expect("the server task panicked")?;
    println!("shut down: {report}");
    println!(
        "{} jobs done, {}",
        JOBS_DONE.load(Ordering::SeqCst),
        if report.is_clean() {
            "nothing cut off"
        } else {
            "some work was cut off (see above)"
        }
    );
    Ok(())
}

/// `--load N`: the shutdown under load, with a real SIGTERM halfway.
async fn measure_under_load(requests: usize, grace: Duration) -> std::io::Result<()> {
    let config = shutdown_load::Config {
        requests,
        signal_after: requests / 2,
        grace,
        sigterm: true,
        ..shutdown_load::Config::default()
    };
    println!(
        "{} orders, {} at a time, {:?} of work each, then a {:?} detached publish; SIGTERM after {} answers; grace period {:?}",
        config.requests, config.concurrency, config.work, config.publish, config.signal_after, config.grace
    );
    let outcome = shutdown_load::run(&config).await?;
    println!(
        "answered 200: {}\nerror responses: {}\nturned away (refused, or closed unanswered after the signal): {}",
        outcome.ok, outcome.error_responses, outcome.not_served
    );
    println!(
        "publishes started: {}, completed: {}, lost: {}",
        outcome.publishes, outcome.published, outcome.lost
    );
    println!(
        "shutdown: {} (took {:?} from the signal)",
        outcome.report, outcome.shutdown_took
    );
    Ok(())
}
