//! The Postgres adapters against a real server: what a cancellation costs
//! and what an uncancelled call costs. A plain binary (no harness), run
//! against a throwaway cluster:
//!
//! ```sh
//! bash scripts/with-postgres.sh cargo bench -p ctx-benches --bench postgres
//! bash scripts/with-postgres.sh cargo bench -p ctx-benches --bench postgres -- --cancellations 200
//! ```
//!
//! For each driver (`ctx::postgres` over tokio-postgres, `ctx::sqlx`):
//!
//! 1. **Gone after its context ends**: `SELECT pg_sleep(10)` under a
//!    context, cancelled once it shows as active in `pg_stat_activity`;
//!    the time from `cancel()` until it no longer does (polled over a
//!    connection of its own). p50, p99 and max over `--cancellations`
//!    (default 1000).
//! 2. **The next query of a pool of 2** whose two connections were
//!    abandoned mid-`pg_sleep(5)`: the latency of `SELECT 1`, p50 and max
//!    over 20 rounds.
//! 3. **Uncancelled `SELECT 1`**, a pooled connection per call, through the
//!    adapter (under a context with a deadline, as a request's) and through
//!    the plain driver on the same pool: the ratio of the two, over
//!    alternating rounds in one session.

use std::time::{Duration, Instant};

use ctx::Context;
use sqlx::postgres::PgPoolOptions;
use tokio_postgres::NoTls;

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        eprintln!(
            "DATABASE_URL is not set: run this under a throwaway Postgres with \
             `bash scripts/with-postgres.sh cargo bench -p ctx-benches --bench postgres`"
        );
        std::process::exit(2)
    })
}

fn tokio_postgres_pool(size: usize) -> ctx::postgres::Pool {
    let config: tokio_postgres::Config = database_url().parse().expect("DATABASE_URL");
    let manager = deadpool_postgres::Manager::new(config, NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .build()
        .expect("pool");
    ctx::postgres::Pool::new(pool, NoTls)
}

async fn sqlx_pool(size: u32) -> ctx::sqlx::Pool {
    let options = PgPoolOptions::new().max_connections(size);
    ctx::sqlx::Pool::connect_with(options, database_url().parse().expect("DATABASE_URL"))
        .await
        .expect("connect")
}

async fn observer() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

async fn active(
    observer: &tokio_postgres::Client,
    statement: &tokio_postgres::Statement,
    query: &str,
) -> bool {
    let row = observer
        .query_one(statement, &[&query])
        .await
        .expect("pg_stat_activity");
    row.get::<_, i64>(0) > 0
}

#[derive(Clone, Copy, Debug)]
enum Driver {
    TokioPostgres,
    Sqlx,
}

impl Driver {
    fn name(self) -> &'static str {
        match self {
            Driver::TokioPostgres => "tokio-postgres",
            Driver::Sqlx => "sqlx",
        }
    }
}

/// Runs `sql` through `driver`'s adapter under `ctx`, returning whether
/// the context ended it (any other failure is a bug: it panics).
async fn run(
    driver: Driver,
    pools: &(ctx::postgres::Pool, ctx::sqlx::Pool),
    ctx: &Context<'_>,
    sql: &'static str,
) -> bool {
    let failure = match driver {
        Driver::TokioPostgres => pools
            .0
            .execute(ctx, sql, &[])
            .await
            .err()
            .map(|e| (e.context_error(), e.to_string())),
        Driver::Sqlx => pools
            .1
            .execute(ctx, sql)
            .await
            .err()
            .map(|e| (e.context_error(), e.to_string())),
    };
    match failure {
        None => false,
        Some((Some(_), _)) => true,
        Some((None, error)) => panic!("{} failed: {error}", driver.name()),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn gone_after_cancel(driver: Driver, count: usize) {
    let pools = (tokio_postgres_pool(4), sqlx_pool(4).await);
    let observer = observer().await;
    let poll = observer
        .prepare("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = $1")
        .await
        .unwrap();
    let sql = "SELECT pg_sleep(10) /* gone-after-cancel */";
    let mut gone = Vec::with_capacity(count);
    for _ in 0..count {
        let (ctx, cancel) = Context::background().with_cancel();
        let pools = pools.clone();
        let statement = tokio::spawn(async move { run(driver, &pools, &ctx, sql).await });
        while !active(&observer, &poll, sql).await {
            assert!(
                !statement.is_finished(),
                "the statement ended before it was cancelled"
            );
        }
        let cancelled = Instant::now();
        cancel.cancel();
        while active(&observer, &poll, sql).await {}
        gone.push(cancelled.elapsed());
        assert!(statement.await.unwrap(), "the context ended the statement");
    }
    gone.sort();
    println!(
        "{:<15} gone from pg_stat_activity after cancel, {count} cancellations: p50 {:?}, p99 {:?}, max {:?}",
        driver.name(),
        percentile(&gone, 0.50),
        percentile(&gone, 0.99),
        gone[gone.len() - 1],
    );
}

async fn next_query_after_abandoned(driver: Driver) {
    let mut latencies = Vec::new();
    for _ in 0..20 {
        let pools = (tokio_postgres_pool(2), sqlx_pool(2).await);
        let observer = observer().await;
        let poll = observer
            .prepare("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query = $1")
            .await
            .unwrap();
        let sql = "SELECT pg_sleep(5) /* abandoned */";
        let (ctx, cancel) = Context::background().with_cancel();
        let sleeps: Vec<_> = (0..2)
            .map(|_| {
                let (pools, ctx) = (pools.clone(), ctx.clone());
                tokio::spawn(async move { run(driver, &pools, &ctx, sql).await })
            })
            .collect();
        loop {
            let row = observer.query_one(&poll, &[&sql]).await.unwrap();
            if row.get::<_, i64>(0) == 2 {
                break;
            }
        }
        cancel.cancel();
        for sleep in sleeps {
            assert!(sleep.await.unwrap());
        }
        let started = Instant::now();
        let next = Context::background();
        assert!(!run(driver, &pools, &next, "SELECT 1").await);
        latencies.push(started.elapsed());
        while active(&observer, &poll, sql).await {}
    }
    latencies.sort();
    println!(
        "{:<15} pool of 2, both abandoned mid-pg_sleep(5): next SELECT 1 in p50 {:?}, max {:?} (20 rounds)",
        driver.name(),
        percentile(&latencies, 0.5),
        latencies[latencies.len() - 1],
    );
}

async fn uncancelled_ratio(driver: Driver) {
    let pools = (tokio_postgres_pool(1), sqlx_pool(1).await);
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(3600));
    let (mut plain, mut adapter) = (Duration::ZERO, Duration::ZERO);
    const PER_ROUND: u32 = 2_000;
    for round in 0..11 {
        let started = Instant::now();
        for _ in 0..PER_ROUND {
            match driver {
                Driver::TokioPostgres => {
                    let client = pools.0.inner().get().await.unwrap();
                    client.query_one("SELECT 1", &[]).await.unwrap();
                }
                Driver::Sqlx => {
                    sqlx::query("SELECT 1")
                        .fetch_one(pools.1.inner())
                        .await
                        .unwrap();
                }
            }
        }
        let plain_round = started.elapsed();
        let started = Instant::now();
        for _ in 0..PER_ROUND {
            match driver {
                Driver::TokioPostgres => {
                    pools.0.query_one(&ctx, "SELECT 1", &[]).await.unwrap();
                }
                Driver::Sqlx => {
                    pools.1.fetch_one(&ctx, "SELECT 1").await.unwrap();
                }
            }
        }
        let adapter_round = started.elapsed();
        // The first round warms up (connections, prepared statements).
        if round > 0 {
            plain += plain_round;
            adapter += adapter_round;
        }
    }
    let calls = PER_ROUND * 10;
    println!(
        "{:<15} uncancelled SELECT 1 per pooled call: plain {:?}, adapter {:?}, adapter/plain {:.3} ({calls} calls each)",
        driver.name(),
        plain / calls,
        adapter / calls,
        adapter.as_secs_f64() / plain.as_secs_f64(),
    );
}

fn main() {
    let mut cancellations = 1000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--cancellations" {
            cancellations = args.next().and_then(|n| n.parse().ok()).unwrap_or(1000);
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for driver in [Driver::TokioPostgres, Driver::Sqlx] {
            gone_after_cancel(driver, cancellations).await;
            next_query_after_abandoned(driver).await;
            uncancelled_ratio(driver).await;
        }
    });
}
