//! The bug this crate exists for, and its fix, with real servers on
//! loopback.
//!
//! A handler computes a receipt, publishes it to a broker in the
//! background, and answers. Three variants of the publish run one after the
//! other against the same load (some clients leave early):
//!
//! 1. with the request's context: cancelled when the response is produced
//!    or the client leaves, so publishes still lingering are lost;
//! 2. with `Context::background()`: nothing lost, but the trace id is gone;
//! 3. with `#[detached]`: nothing lost, trace id kept.
//!
//! The broker is in-process (an HTTP endpoint on loopback) unless a Redis
//! is given with `--redis URL`: then every publish is an `XADD` to a stream
//! of its own, and the table is the same. The Redis client is built only
//! when asked for, with the feature `ctx-examples-support/redis`.
//!
//! The story itself (handler, the three publishes, the broker, the load)
//! is in `examples/support/src/publish.rs`, which the integration test runs
//! too.
//!
//! ```sh
//! cargo run --example publish_after_response --features axum
//! cargo run --example publish_after_response --features axum -- --requests 500 --disconnect-share 0.3 --latency-ms 10
//! cargo run --example publish_after_response --features axum,ctx-examples-support/redis -- --redis redis://127.0.0.1:6379
//! ```

use std::process::ExitCode;
use std::time::Duration;

use ctx_examples_support::publish::{run_variant, Config, Report, Variant};

fn usage() -> ! {
    eprintln!(
        "usage: publish_after_response [--requests N] [--disconnect-share 0..1] [--latency-ms MS] [--concurrency N] [--seed S] [--redis URL]"
    );
    std::process::exit(2)
}

fn parse_args() -> Config {
    let mut config = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--requests" | "-n" => config.requests = value.parse().unwrap_or_else(|_| usage()),
            "--disconnect-share" => {
                config.disconnect_share = value.parse().unwrap_or_else(|_| usage());
                if !(0.0..=1.0).contains(&config.disconnect_share) {
                    usage();
                }
            }
            "--latency-ms" => {
                config.latency = Duration::from_millis(value.parse().unwrap_or_else(|_| usage()))
            }
            "--concurrency" => config.concurrency = value.parse().unwrap_or_else(|_| usage()),
            "--seed" => config.seed = value.parse().unwrap_or_else(|_| usage()),
            "--redis" => config.redis = Some(value),
            _ => usage(),
        }
    }
    config.requests = config.requests.min(100_000);
    config
}

fn label(variant: Variant) -> &'static str {
    match variant {
        Variant::RequestContext => "1. request's ctx (the bug)",
        Variant::Background => "2. Context::background()",
        Variant::Detached => "3. #[detached] (the fix)",
    }
}

fn header() -> String {
    format!(
        "{:<28} {:>8} {:>9} {:>11} {:>9} {:>9} {:>5} {:>14}",
        "variant",
        "requests",
        "responses",
        "client left",
        "publishes",
        "published",
        "lost",
        "trace ids kept"
    )
}

fn row(variant: Variant, r: &Report) -> String {
    format!(
        "{:<28} {:>8} {:>9} {:>11} {:>9} {:>9} {:>5} {:>14}",
        label(variant),
        r.requests,
        r.responses,
        r.clients_left,
        r.publishes,
        r.published,
        r.lost,
        format!("{}/{}", r.traces_kept, r.published),
    )
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(parse_args()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("publish_after_response: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(config: Config) -> std::io::Result<()> {
    let broker = match &config.redis {
        Some(url) => format!("Redis at {url}"),
        None => "the in-process broker".to_owned(),
    };
    println!(
        "{} requests per variant, {} at a time, {:.0}% of clients leave early, ~{:?} per step (work, render, linger, broker ack), publishing to {broker}\n",
        config.requests,
        config.concurrency,
        config.disconnect_share * 100.0,
        config.latency
    );

    println!("{}", header());
    let mut rows = Vec::new();
    for variant in Variant::ALL {
        let report = run_variant(variant, &config).await?;
        println!("{}", row(variant, &report));
        rows.push((variant, report));
    }
    println!();

    let (bug, background, fix) = (&rows[0].1, &rows[1].1, &rows[2].1);
    println!(
        "1. the request's context lost {} of {} publishes: they were still lingering when the response\n   was produced (or the client left), which cancelled the context they were given.",
        bug.lost, bug.publishes
    );
    println!(
        "2. Context::background() lost {}, but kept {} of {} trace ids: the request's values are gone.",
        background.lost, background.traces_kept, background.published
    );
    println!(
        "3. #[detached] lost {} and kept {} of {} trace ids: values without cancellation (without_cancel),\n   and shutdown drained the detached work (the server's DetachedTracker) before exiting.",
        fix.lost, fix.traces_kept, fix.published
    );
    let unfinished: usize = rows.iter().map(|(_, r)| r.unfinished).sum();
    if unfinished > 0 {
        println!("warning: {unfinished} publishes had not finished when waiting stopped");
    }
    Ok(())
}
