//! The database adapters against a real Postgres (`ctx::postgres` for
//! tokio-postgres, `ctx::sqlx` for sqlx): a statement whose context ends is
//! gone from the server, its connection comes back clean (or not at all),
//! and the order transaction of `examples/orders_postgres.rs` is never
//! half-committed, whether cancelled at each of its awaits in turn or at
//! random under load.
//!
//! They need `DATABASE_URL`: `bash scripts/with-postgres.sh cargo test
//! --features postgres,sqlx,testing --test postgres` starts a throwaway
//! cluster for them (`bash scripts/test-all.sh` does). `CTX_PG_STRESS=N`
//! sets the number of random cancellations per driver (default 400).

#[path = "../examples/orders/mod.rs"]
mod orders;

use std::time::Duration;

use ctx::testing::{CancelPoints, Outcome};
use ctx::Context;
use sqlx::postgres::PgPoolOptions;
use tokio_postgres::NoTls;

/// Orders committed without their outbox row: what a half-committed
/// transaction would leave. Always 0.
const PARTIAL_COMMITS: &str = "SELECT count(*) FROM orders o \
     WHERE NOT EXISTS (SELECT 1 FROM outbox b WHERE b.order_id = o.id)";

fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: these tests need a Postgres; run them under a throwaway \
             one with `bash scripts/with-postgres.sh cargo test --features postgres,sqlx,testing \
             --test postgres` (or `bash scripts/test-all.sh`)"
        )
    })
}

fn tokio_postgres_pool(size: usize) -> ctx::postgres::Pool {
    let config: tokio_postgres::Config = database_url().parse().expect("DATABASE_URL");
    let manager = deadpool_postgres::Manager::new(config, NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(size)
        .build()
        .expect("a pool");
    ctx::postgres::Pool::new(pool, NoTls)
}

async fn sqlx_pool(size: u32) -> ctx::sqlx::Pool {
    // No ping before each acquire: the adapter never hands back a
    // connection it is unsure of, and the test checks that.
    let options = PgPoolOptions::new()
        .max_connections(size)
        .test_before_acquire(false);
    ctx::sqlx::Pool::connect_with(options, database_url().parse().expect("DATABASE_URL"))
        .await
        .expect("connect")
}

/// A connection outside the pools under test, to look at the server.
async fn observer() -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&database_url(), NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
}

async fn make_tables() {
    observer()
        .await
        .batch_execute(orders::SCHEMA)
        .await
        .expect("tables");
}

/// Statements whose text contains `marker` running on the server.
async fn running(observer: &tokio_postgres::Client, marker: &str) -> i64 {
    let pattern = format!("%{marker}%");
    observer
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 \
             AND pid <> pg_backend_pid()",
            &[&pattern],
        )
        .await
        .expect("pg_stat_activity")
        .get(0)
}

/// Waits (at most 4 s) for `running(marker)` to be `want`.
async fn wait_running(observer: &tokio_postgres::Client, marker: &str, want: i64) -> i64 {
    let until = std::time::Instant::now() + Duration::from_secs(4);
    loop {
        let now = running(observer, marker).await;
        if now == want || std::time::Instant::now() > until {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn partial_commits(observer: &tokio_postgres::Client) -> i64 {
    observer
        .query_one(PARTIAL_COMMITS, &[])
        .await
        .expect("count")
        .get(0)
}

/// Waits (a bounded spin, no timer: it also runs on a paused clock) until
/// no connection of `pool` is out being made clean.
async fn tokio_postgres_settled(pool: &ctx::postgres::Pool) {
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while pool.inner().status().available < pool.inner().status().size {
        assert!(
            std::time::Instant::now() < until,
            "connections never came back: {pool:?}"
        );
        tokio::task::yield_now().await;
    }
}

/// Every connection of `pool` answers `SELECT 1`, all held at once.
async fn tokio_postgres_all_answer(pool: &ctx::postgres::Pool) {
    let size = pool.inner().status().size;
    let mut held = Vec::new();
    for _ in 0..size {
        held.push(pool.inner().get().await.expect("a pooled connection"));
    }
    for client in &held {
        let one: i32 = client
            .query_one("SELECT 1", &[])
            .await
            .expect("SELECT 1")
            .get(0);
        assert_eq!(one, 1);
    }
}

/// Every connection of `pool` answers `SELECT 1`, all held at once.
async fn sqlx_all_answer(pool: &ctx::sqlx::Pool) {
    let size = pool.inner().size();
    let mut held = Vec::new();
    for _ in 0..size {
        held.push(pool.inner().acquire().await.expect("a pooled connection"));
    }
    for conn in &mut held {
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&mut **conn)
            .await
            .expect("SELECT 1");
        assert_eq!(one, 1);
    }
}

/// What a driver's call ended with, for the checks both drivers share: the
/// context error it stands for, and its text.
type Ended = (Option<ctx::Error>, String);

/// Two `pg_sleep(5)` calls (marked `marker` in their SQL, `sleep` runs one)
/// fill a pool of two; their context is cancelled. Both end with
/// `Canceled`, the next query (`select_one`) gets a connection within its
/// 4 s budget, and the sleeps are gone from the server.
async fn abandoned_sleeps_free_a_pool_of_two<Sleep, SleepFut, One, OneFut>(
    marker: &str,
    sleep: Sleep,
    select_one: One,
) where
    Sleep: Fn(Context<'static>) -> SleepFut,
    SleepFut: std::future::Future<Output = Result<(), Ended>> + Send + 'static,
    One: FnOnce(Context<'static>) -> OneFut,
    OneFut: std::future::Future<Output = i32>,
{
    let observer = observer().await;
    let (ctx, cancel) = Context::background().with_cancel();
    let sleeps: Vec<_> = (0..2).map(|_| tokio::spawn(sleep(ctx.clone()))).collect();
    assert_eq!(
        wait_running(&observer, marker, 2).await,
        2,
        "both sleeps run"
    );

    cancel.cancel();
    for sleep in sleeps {
        let (error, text) = sleep.await.unwrap().unwrap_err();
        assert_eq!(error, Some(ctx::Error::Canceled), "{text}");
    }
    let (next, _cancel) = Context::background().with_timeout(Duration::from_secs(4));
    assert_eq!(select_one(next).await, 1);
    assert_eq!(
        wait_running(&observer, marker, 0).await,
        0,
        "the sleeps are gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_postgres_abandoned_sleeps_free_a_pool_of_two() {
    let pool = tokio_postgres_pool(2);
    abandoned_sleeps_free_a_pool_of_two(
        "abandoned-tp",
        |ctx| {
            let pool = pool.clone();
            async move {
                pool.execute(&ctx, "SELECT pg_sleep(5) /* abandoned-tp */", &[])
                    .await
                    .map(drop)
                    .map_err(|error| (error.context_error(), error.to_string()))
            }
        },
        |next| {
            let pool = &pool;
            async move {
                pool.query_one(&next, "SELECT 1", &[])
                    .await
                    .expect("the next query")
                    .get(0)
            }
        },
    )
    .await;
    tokio_postgres_settled(&pool).await;
    tokio_postgres_all_answer(&pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_abandoned_sleeps_free_a_pool_of_two() {
    let pool = sqlx_pool(2).await;
    abandoned_sleeps_free_a_pool_of_two(
        "abandoned-sqlx",
        |ctx| {
            let pool = pool.clone();
            async move {
                pool.execute(&ctx, "SELECT pg_sleep(5) /* abandoned-sqlx */")
                    .await
                    .map(drop)
                    .map_err(|error| (error.context_error(), error.to_string()))
            }
        },
        |next| {
            let pool = &pool;
            async move {
                let row = pool
                    .fetch_one(&next, "SELECT 1")
                    .await
                    .expect("the next query");
                sqlx::Row::get(&row, 0)
            }
        },
    )
    .await;
    sqlx_all_answer(&pool).await;
}

#[tokio::test]
async fn a_deadline_returns_its_error_and_cause_at_once() {
    let pool = tokio_postgres_pool(1);
    let (ctx, _cancel) =
        Context::background().with_timeout_cause(Duration::from_millis(50), "the report budget");
    let error = pool
        .execute(&ctx, "SELECT pg_sleep(5)", &[])
        .await
        .unwrap_err();
    assert_eq!(error.context_error(), Some(ctx::Error::DeadlineExceeded));
    assert_eq!(
        error.to_string(),
        "context deadline exceeded (cause: the report budget)"
    );

    let pool = sqlx_pool(1).await;
    let error = pool.execute(&ctx, "SELECT pg_sleep(5)").await.unwrap_err();
    assert_eq!(error.context_error(), Some(ctx::Error::DeadlineExceeded));
}

#[tokio::test]
async fn a_dropped_transaction_is_rolled_back_before_the_next_statement() {
    make_tables().await;
    let ctx = Context::background();
    let pool = tokio_postgres_pool(1);
    let mut client = pool.get(&ctx).await.unwrap();
    let mut tx = client.transaction(&ctx).await.unwrap();
    let id: i64 = tx
        .query_one(
            &ctx,
            "INSERT INTO orders (body) VALUES ('dropped') RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    drop(tx);
    let found = client
        .query_opt(&ctx, "SELECT id FROM orders WHERE id = $1", &[&id])
        .await
        .unwrap();
    assert!(found.is_none(), "rolled back");

    let pool = sqlx_pool(1).await;
    let mut conn = pool.acquire(&ctx).await.unwrap();
    let mut tx = conn.begin(&ctx).await.unwrap();
    let row = tx
        .fetch_one(
            &ctx,
            "INSERT INTO orders (body) VALUES ('dropped') RETURNING id",
        )
        .await
        .unwrap();
    let id: i64 = sqlx::Row::get(&row, 0);
    drop(tx);
    let found = conn
        .fetch_optional(
            &ctx,
            sqlx::query("SELECT id FROM orders WHERE id = $1").bind(id),
        )
        .await
        .unwrap();
    assert!(found.is_none(), "rolled back");
}

/// What one run of the sweep leaves: the order's fate, and whether the
/// database and the pool are as they should be.
#[derive(Debug)]
struct Swept {
    placed: Result<i64, Option<ctx::Error>>,
    committed: bool,
    partial_commits: i64,
}

impl Swept {
    /// Looks, from outside the pools, at what placing the order `body`
    /// left in the database.
    async fn look(placed: Result<i64, Option<ctx::Error>>, body: &str) -> Swept {
        let observer = observer().await;
        let committed: i64 = observer
            .query_one("SELECT count(*) FROM orders o JOIN outbox b ON b.order_id = o.id WHERE o.body = $1", &[&body])
            .await
            .unwrap()
            .get(0);
        Swept {
            placed,
            committed: committed == 1,
            partial_commits: partial_commits(&observer).await,
        }
    }
}

/// The runs of a sweep, checked one by one.
#[derive(Default)]
struct Sweep {
    points: usize,
    refused: usize,
}

impl Sweep {
    /// What the caller was told is what the database holds: an order
    /// placed is committed whole, one refused is not there at all. A
    /// cancellation that lands while `COMMIT` is in flight (not raced, as
    /// Go's `Tx.Commit`) lets the order be placed.
    fn check(&mut self, outcome: Outcome<Swept>) {
        self.points += 1;
        let swept = outcome.output;
        assert_eq!(swept.partial_commits, 0, "{swept:?}");
        match (&swept.placed, outcome.cancelled_at) {
            (Ok(_), _) => assert!(swept.committed, "{swept:?}"),
            (Err(error), Some(_)) => {
                assert_eq!(*error, Some(ctx::Error::Canceled), "{swept:?}");
                assert!(!swept.committed, "{swept:?}");
                self.refused += 1;
            }
            (Err(_), None) => panic!("the uncancelled run failed: {swept:?}"),
        }
    }

    /// Asserts that the sweep cancelled at each of `checkpoints` (named
    /// for the message), and that cancellations before `COMMIT` refused
    /// the order.
    fn assert_covered(&self, checkpoints: &str) {
        let Sweep { points, refused } = self;
        assert!(*points >= 4, "{checkpoints} are checkpoints: {points} runs");
        assert!(
            *refused >= 3,
            "cancelled before COMMIT, the order is refused: {refused} runs"
        );
    }
}

#[test]
fn cancel_points_sweep_of_the_order_transaction_through_tokio_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(make_tables());
    let mut sweep = Sweep::default();
    CancelPoints::new(|ctx| async move {
        // The database is real I/O: the run keeps tokio's real clock (the
        // harness' paused one would jump to the first timer while a
        // statement is on the wire), and cancels at each await all the same.
        tokio::time::resume();
        let pool = tokio_postgres_pool(2);
        let body = format!("sweep-tp-{}", fastrand::u64(..));
        let placed = orders::place_with_tokio_postgres(&ctx, &pool, &body).await;
        tokio_postgres_settled(&pool).await;
        tokio_postgres_all_answer(&pool).await;
        Swept::look(placed.map_err(|error| error.context_error()), &body).await
    })
    .check(|outcome| sweep.check(outcome));
    sweep.assert_covered("get, BEGIN and both inserts");
}

#[test]
fn cancel_points_sweep_of_the_order_transaction_through_sqlx() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(make_tables());
    let mut sweep = Sweep::default();
    CancelPoints::new(|ctx| async move {
        tokio::time::resume(); // see the tokio-postgres sweep
        let pool = sqlx_pool(2).await;
        let body = format!("sweep-sqlx-{}", fastrand::u64(..));
        let placed = orders::place_with_sqlx(&ctx, &pool, &body).await;
        sqlx_all_answer(&pool).await;
        pool.inner().close().await;
        Swept::look(placed.map_err(|error| error.context_error()), &body).await
    })
    .check(|outcome| sweep.check(outcome));
    sweep.assert_covered("acquire, BEGIN and both inserts");
}

fn stress_count() -> usize {
    std::env::var("CTX_PG_STRESS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(400)
}

/// A budget between nothing and a little more than an order takes: most
/// orders are cut somewhere inside their transaction.
fn random_budget() -> Duration {
    Duration::from_micros(fastrand::u64(0..150_000))
}

#[derive(Debug, Default)]
struct Tally {
    placed: usize,
    cut: usize,
    broken: Vec<String>,
}

impl Tally {
    fn add(&mut self, result: Result<(), (Option<ctx::Error>, String)>) {
        match result {
            Ok(()) => self.placed += 1,
            Err((Some(_), _)) => self.cut += 1,
            Err((None, error)) => self.broken.push(error),
        }
    }
}

/// Places `count` orders from 64 tasks at once, each under a random
/// budget, through `place`; how they ended.
async fn place_under_random_cancellations<F, Fut>(count: usize, place: F) -> Tally
where
    F: Fn(Context<'static>) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<(), (Option<ctx::Error>, String)>> + Send,
{
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (place, next) = (place.clone(), next.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count {
                    let (ctx, _cancel) = Context::background().with_timeout(random_budget());
                    tally.add(place(ctx).await);
                }
                tally
            })
        })
        .collect();
    let mut total = Tally::default();
    for worker in workers {
        let tally = worker.await.unwrap();
        total.placed += tally.placed;
        total.cut += tally.cut;
        total.broken.extend(tally.broken);
    }
    assert_eq!(total.placed + total.cut + total.broken.len(), count);
    total
}

impl Tally {
    /// Asserts that nothing broke and nothing was half committed.
    async fn assert_clean(&self, driver: &str) {
        assert!(
            self.broken.is_empty(),
            "{} broken: {:?}",
            self.broken.len(),
            &self.broken[..self.broken.len().min(5)]
        );
        assert_eq!(partial_commits(&observer().await).await, 0);
        println!(
            "{driver}: {} placed, {} cut, 0 broken, 0 partial commits",
            self.placed, self.cut
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cancellations_under_load_through_tokio_postgres() {
    make_tables().await;
    let pool = tokio_postgres_pool(16);
    let placing = pool.clone();
    let tally = place_under_random_cancellations(stress_count(), move |ctx| {
        let pool = placing.clone();
        async move {
            let result = orders::place_with_tokio_postgres(&ctx, &pool, "stress-tp").await;
            result
                .map(drop)
                .map_err(|e| (e.context_error(), e.to_string()))
        }
    })
    .await;
    tokio_postgres_settled(&pool).await;
    tokio_postgres_all_answer(&pool).await;
    tally.assert_clean("tokio-postgres").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_cancellations_under_load_through_sqlx() {
    make_tables().await;
    let pool = sqlx_pool(16).await;
    let placing = pool.clone();
    let tally = place_under_random_cancellations(stress_count(), move |ctx| {
        let pool = placing.clone();
        async move {
            let result = orders::place_with_sqlx(&ctx, &pool, "stress-sqlx").await;
            result
                .map(drop)
                .map_err(|e| (e.context_error(), e.to_string()))
        }
    })
    .await;
    sqlx_all_answer(&pool).await;
    tally.assert_clean("sqlx").await;
}
