//! A sqlx `PgPool` whose connections end their statements on the server
//! when they close.

use std::fmt;
use std::time::Duration;

use ::sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgQueryResult, PgRow};
use ::sqlx::{Execute, PgPool, Postgres};

use super::{Conn, Error};
use crate::context_ended::ContextEnded;
use crate::Context;

/// How often a backend running a statement checks that its client is
/// still there (Postgres' `client_connection_check_interval`): the bound
/// on how long a statement runs on after its connection is discarded.
pub const CLIENT_CHECK_INTERVAL: Duration = Duration::from_millis(2);

/// A sqlx `PgPool`, Go's `*sql.DB`: [`acquire`](Pool::acquire) waits for a
/// connection under the caller's context, and the statements of the
/// [`Conn`] it returns run under theirs. `execute` and the `fetch_*` here
/// take a connection for one statement.
///
/// The pool is made here, from sqlx's options, so that every connection
/// asks its backend to check for the client every
/// [`CLIENT_CHECK_INTERVAL`] while running a statement: a discarded
/// connection ends its statement on the server (Postgres 14 or later).
///
/// ```no_run
/// use ctx::sqlx::Pool;
/// use ctx::Context;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let pool = Pool::connect("postgres://postgres@127.0.0.1/postgres").await?;
///
/// let (ctx, _cancel) = Context::background().with_timeout(std::time::Duration::from_millis(100));
/// let error = pool.execute(&ctx, "SELECT pg_sleep(5)").await.unwrap_err();
/// assert_eq!(error.context_error(), Some(ctx::Error::DeadlineExceeded)); // after 100 ms
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Pool {
    pool: PgPool,
}

impl Pool {
    /// A pool with sqlx's default options, connecting to `url`.
    ///
    /// # Errors
    ///
    /// When `url` is malformed or the first connection fails.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), sqlx::Error> {
    /// let pool = ctx::sqlx::Pool::connect("postgres://postgres@127.0.0.1/postgres").await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect(url: &str) -> Result<Pool, ::sqlx::Error> {
        Pool::connect_with(PgPoolOptions::new(), url.parse()?).await
    }

    /// A pool with `options`, connecting with `connect`.
    ///
    /// # Errors
    ///
    /// When the first connection fails.
    ///
    /// ```no_run
    /// use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
    ///
    /// # async fn f() -> Result<(), sqlx::Error> {
    /// let connect: PgConnectOptions = "postgres://postgres@127.0.0.1/postgres".parse()?;
    /// let pool = ctx::sqlx::Pool::connect_with(PgPoolOptions::new().max_connections(16), connect).await?;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(
        options: PgPoolOptions,
        connect: PgConnectOptions,
    ) -> Result<Pool, ::sqlx::Error> {
        let pool = options.connect_with(checked(connect)).await?;
        Ok(Pool { pool })
    }

    /// The sqlx pool, for its status and for calls without a context.
    ///
    /// ```no_run
    /// # fn f(pool: ctx::sqlx::Pool) {
    /// let idle = pool.inner().num_idle();
    /// # }
    /// ```
    pub fn inner(&self) -> &PgPool {
        &self.pool
    }

    /// A connection, waited for under `ctx`.
    ///
    /// # Errors
    ///
    /// [`Error::Context`] when `ctx` ends first, [`Error::Sqlx`] when the
    /// pool cannot give one.
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::sqlx::Pool) -> Result<(), ctx::sqlx::Error> {
    /// let mut conn = pool.acquire(&ctx).await?;
    /// # Ok(()) }
    /// ```
    pub async fn acquire(&self, ctx: &Context<'_>) -> Result<Conn, Error> {
        if let Some(ended) = ContextEnded::of(ctx) {
            return Err(ended.into());
        }
        match ctx.run(self.pool.acquire()).await {
            Ok(conn) => Ok(Conn::new(conn?)),
            Err(error) => Err(ContextEnded::new(ctx, error).into()),
        }
    }

    /// Runs `query` on a connection of its own, Go's `DB.ExecContext`.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Pool::acquire) and [`Conn::execute`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::sqlx::Pool) -> Result<(), ctx::sqlx::Error> {
    /// pool.execute(&ctx, "SELECT pg_sleep(1)").await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute<'q, E>(&self, ctx: &Context<'_>, query: E) -> Result<PgQueryResult, Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        self.acquire(ctx).await?.execute(ctx, query).await
    }

    /// Every row of `query` on a connection of its own, Go's
    /// `DB.QueryContext`.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Pool::acquire) and [`Conn::execute`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::sqlx::Pool) -> Result<(), ctx::sqlx::Error> {
    /// let rows = pool.fetch_all(&ctx, "SELECT id, body FROM orders").await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_all<'q, E>(&self, ctx: &Context<'_>, query: E) -> Result<Vec<PgRow>, Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        self.acquire(ctx).await?.fetch_all(ctx, query).await
    }

    /// The first row of `query` on a connection of its own, Go's
    /// `DB.QueryRowContext`.
    ///
    /// # Errors
    ///
    /// As [`acquire`](Pool::acquire) and [`Conn::execute`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::sqlx::Pool) -> Result<(), ctx::sqlx::Error> {
    /// let row = pool.fetch_one(&ctx, "SELECT 1").await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_one<'q, E>(&self, ctx: &Context<'_>, query: E) -> Result<PgRow, Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        self.acquire(ctx).await?.fetch_one(ctx, query).await
    }
}

/// `connect`, asking each backend to check for its client while it runs a
/// statement.
fn checked(connect: PgConnectOptions) -> PgConnectOptions {
    let interval = format!("{}ms", CLIENT_CHECK_INTERVAL.as_millis());
    connect.options([("client_connection_check_interval", interval)])
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.pool.size())
            .field("idle", &self.pool.num_idle())
            .finish_non_exhaustive()
    }
}
