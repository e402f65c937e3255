//! The orders of `examples/orders_postgres.rs`, through either driver: the
//! tables, and placing an order (the order row and its outbox row, in one
//! transaction, under the caller's context). The database tests run the
//! same code (`tests/postgres.rs` includes this file).

use ctx::Context;
use sqlx::Row;

/// The tables, made if missing. The advisory lock lets several processes
/// (tests running in parallel) make them at once.
pub const SCHEMA: &str = "
    BEGIN;
    SELECT pg_advisory_xact_lock(7262);
    CREATE TABLE IF NOT EXISTS orders (
        id bigserial PRIMARY KEY,
        body text NOT NULL,
        placed_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS outbox (
        id bigserial PRIMARY KEY,
        order_id bigint NOT NULL REFERENCES orders (id),
        published boolean NOT NULL DEFAULT false
    );
    COMMIT;
";

const INSERT_ORDER: &str = "INSERT INTO orders (body) VALUES ($1) RETURNING id";
const INSERT_OUTBOX: &str = "INSERT INTO outbox (order_id) VALUES ($1)";

/// Places an order through tokio-postgres: its id.
pub async fn place_with_tokio_postgres(
    ctx: &Context<'_>,
    pool: &ctx::postgres::Pool,
    body: &str,
) -> Result<i64, ctx::postgres::Error> {
    let mut client = pool.get(ctx).await?;
    let mut tx = client.transaction(ctx).await?;
    let id: i64 = tx.query_one(ctx, INSERT_ORDER, &[&body]).await?.get(0);
    tx.execute(ctx, INSERT_OUTBOX, &[&id]).await?;
    tx.commit(ctx).await?;
    Ok(id)
}

/// Places an order through sqlx: its id.
pub async fn place_with_sqlx(
    ctx: &Context<'_>,
    pool: &ctx::sqlx::Pool,
    body: &str,
) -> Result<i64, ctx::sqlx::Error> {
    let mut conn = pool.acquire(ctx).await?;
    let mut tx = conn.begin(ctx).await?;
    let id: i64 = tx
        .fetch_one(ctx, sqlx::query(INSERT_ORDER).bind(body))
        .await?
        .get(0);
    tx.execute(ctx, sqlx::query(INSERT_OUTBOX).bind(id)).await?;
    tx.commit(ctx).await?;
    Ok(id)
}
