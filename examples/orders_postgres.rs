//! A small order service on Postgres, every call under its request's
//! context: copy it as a starting point.
//!
//! ```sh
//! bash scripts/with-postgres.sh sh -c 'cargo run --example orders_postgres \
//!     --features postgres,sqlx,reqwest -- --database-url "$DATABASE_URL" --listen 127.0.0.1:8080'
//! curl -H 'grpc-timeout: 300m' '127.0.0.1:8080/sleep?secs=2&driver=sqlx'   # 504 after 300 ms
//! curl -d 'two teas' 127.0.0.1:8080/orders                                 # 200, the order's id
//! ```
//!
//! - `GET /sleep?secs=S&driver=tokio-postgres|sqlx` runs `SELECT
//!   pg_sleep(S)` through the crate's adapter for that driver: 200 when it
//!   is done; when the request's context ends first (its deadline, sent as
//!   `grpc-timeout`, `Connect-Timeout-Ms` or `x-envoy-expected-rq-timeout-ms`,
//!   or the client leaving), the sleep is cancelled on the server and the
//!   answer is 504 for a deadline, 503 for a cancellation.
//! - `POST /orders` (body: the order, as text; `?driver=` as above) inserts
//!   the order and its outbox row in one transaction, calls `--downstream`
//!   (if given) with reqwest under the request's context (its remaining
//!   budget, minus a reserve, in `grpc-timeout`), publishes the order with
//!   `#[detached]` work (which outlives the response, keeps the request's
//!   trace id, and is drained at shutdown), and answers 200 with the
//!   order's id.
//!
//! It makes its tables if they are missing, prints a line with `listening`
//! once it accepts requests, and shuts down gracefully on Ctrl-C or
//! SIGTERM (`ctx::http::Shutdown`).

#[path = "orders/mod.rs"]
mod orders;

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use ctx::http::client::{DeadlineLayer, SendCtx};
use ctx::http::Shutdown;
use ctx::{detached, Context};
use serde::Deserialize;
use tokio_postgres::NoTls;

/// What every handler shares.
#[derive(Clone)]
struct App {
    tokio_postgres: ctx::postgres::Pool,
    sqlx: ctx::sqlx::Pool,
    http: reqwest::Client,
    downstream: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
enum Driver {
    #[default]
    #[serde(rename = "tokio-postgres")]
    TokioPostgres,
    #[serde(rename = "sqlx")]
    Sqlx,
}

#[derive(Debug, Deserialize)]
struct SleepQuery {
    secs: f64,
    #[serde(default)]
    driver: Driver,
}

#[derive(Debug, Deserialize)]
struct OrderQuery {
    #[serde(default)]
    driver: Driver,
}

/// A handler's failure, as an answer: the context's end as its status
/// (504 for a deadline, 503 for a cancellation), anything else a 500.
#[derive(Debug)]
enum AppError {
    Context(ctx::Error),
    Other(String),
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Context(error) => error.into_response(),
            AppError::Other(message) => {
                (StatusCode::INTERNAL_SERVER_ERROR, message).into_response()
            }
        }
    }
}

impl From<ctx::postgres::Error> for AppError {
    fn from(error: ctx::postgres::Error) -> AppError {
        error
            .context_error()
            .map_or_else(|| AppError::Other(error.to_string()), AppError::Context)
    }
}

impl From<ctx::sqlx::Error> for AppError {
    fn from(error: ctx::sqlx::Error) -> AppError {
        error
            .context_error()
            .map_or_else(|| AppError::Other(error.to_string()), AppError::Context)
    }
}

impl From<ctx::http::client::ClientError<reqwest::Error>> for AppError {
    fn from(error: ctx::http::client::ClientError<reqwest::Error>) -> AppError {
        error
            .context_error()
            .map_or_else(|| AppError::Other(error.to_string()), AppError::Context)
    }
}

async fn sleep(
    ctx: Context<'_>,
    State(app): State<App>,
    Query(query): Query<SleepQuery>,
) -> Result<&'static str, AppError> {
    match query.driver {
        Driver::TokioPostgres => {
            app.tokio_postgres
                .execute(&ctx, "SELECT pg_sleep($1)", &[&query.secs])
                .await?;
        }
        Driver::Sqlx => {
            let statement = sqlx::query("SELECT pg_sleep($1)").bind(query.secs);
            app.sqlx.execute(&ctx, statement).await?;
        }
    }
    Ok("slept\n")
}

async fn place_order(
    ctx: Context<'_>,
    State(app): State<App>,
    Query(query): Query<OrderQuery>,
    body: String,
) -> Result<String, AppError> {
    let id = match query.driver {
        Driver::TokioPostgres => {
            orders::place_with_tokio_postgres(&ctx, &app.tokio_postgres, &body).await?
        }
        Driver::Sqlx => orders::place_with_sqlx(&ctx, &app.sqlx, &body).await?,
    };
    if let Some(downstream) = &app.downstream {
        // Keeps 20 ms of the request's budget to answer its own caller.
        let hop = DeadlineLayer::new().reserve(Duration::from_millis(20));
        let response = app
            .http
            .post(downstream)
            .body(id.to_string())
            .send_ctx_with(&ctx, &hop)
            .await?;
        if !response.status().is_success() {
            return Err(AppError::Other(format!(
                "the downstream answered {}",
                response.status()
            )));
        }
    }
    publish(ctx.clone(), app.tokio_postgres.clone(), id);
    Ok(format!("{id}\n"))
}

/// Publishes the order (here: marks its outbox row), after the response:
/// detached from the request's end, with a budget of its own.
#[detached(timeout = "5s")]
async fn publish(
    ctx: Context,
    pool: ctx::postgres::Pool,
    id: i64,
) -> Result<(), ctx::postgres::Error> {
    pool.execute(
        &ctx,
        "UPDATE outbox SET published = true WHERE order_id = $1",
        &[&id],
    )
    .await?;
    Ok(())
}

struct Args {
    database_url: String,
    listen: String,
    downstream: Option<String>,
    pool_size: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: orders_postgres --database-url URL --listen ADDR [--downstream URL] [--pool-size N]"
    );
    std::process::exit(2)
}

fn args() -> Args {
    let (mut database_url, mut listen, mut downstream, mut pool_size) = (None, None, None, 16);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_else(|| usage());
        match flag.as_str() {
            "--database-url" => database_url = Some(value),
            "--listen" => listen = Some(value),
            "--downstream" => downstream = Some(value),
            "--pool-size" => {
                pool_size = value
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    match (database_url, listen) {
        (Some(database_url), Some(listen)) => Args {
            database_url,
            listen,
            downstream,
            pool_size,
        },
        _ => usage(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = args();
    let config: tokio_postgres::Config = args.database_url.parse()?;
    let manager = deadpool_postgres::Manager::new(config, NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(args.pool_size)
        .build()?;
    let tokio_postgres = ctx::postgres::Pool::new(pool, NoTls);
    let sqlx_options = sqlx::postgres::PgPoolOptions::new().max_connections(args.pool_size as u32);
    let sqlx = ctx::sqlx::Pool::connect_with(sqlx_options, args.database_url.parse()?).await?;
    sqlx::raw_sql(orders::SCHEMA).execute(sqlx.inner()).await?;

    let shutdown = Shutdown::new()
        .grace(Duration::from_secs(10))
        .drain(Duration::from_secs(10));
    let app = App {
        tokio_postgres,
        sqlx,
        http: reqwest::Client::new(),
        downstream: args.downstream,
    };
    let router = Router::new()
        .route("/sleep", get(sleep))
        .route("/orders", post(place_order))
        .with_state(app)
        .layer(shutdown.layer().default_timeout(Duration::from_secs(30)));
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!(
        "orders_postgres listening on http://{}",
        listener.local_addr()?
    );
    let report = shutdown.serve(axum::serve(listener, router)).await?;
    println!("shut down: {report}");
    Ok(())
}
