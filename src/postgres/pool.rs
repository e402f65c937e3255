//! A deadpool-postgres pool whose connections are had under a context.

use std::fmt;
use std::sync::Arc;

use tokio_postgres::{NoTls, Row, ToStatement};

use super::canceller::Canceller;
use super::client::Params;
use super::{CancelTls, Client, Error};
use crate::context_ended::ContextEnded;
use crate::Context;

/// A deadpool-postgres pool, Go's `*sql.DB`: [`get`](Pool::get) waits for
/// a connection under the caller's context, and the statements of the
/// [`Client`] it returns run under theirs. `query`, `query_one` and
/// `execute` here take a connection for one statement.
///
/// `tls` is the connector the pool's connections were made with. A
/// cancellation runs `pg_cancel_backend` over one connection of its own,
/// made by the pool's manager outside the pool, or, when the backend's pid
/// cannot be had (`sslmode=require`), sends Postgres' cancel request with
/// `tls` and discards the connection.
///
/// ```no_run
/// use ctx::postgres::Pool;
/// use ctx::Context;
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let config: tokio_postgres::Config = "postgres://postgres@127.0.0.1/postgres".parse()?;
/// let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
/// let pool = Pool::new(
///     deadpool_postgres::Pool::builder(manager).max_size(16).build()?,
///     tokio_postgres::NoTls,
/// );
///
/// let (ctx, _cancel) = Context::background().with_timeout(std::time::Duration::from_millis(100));
/// let error = pool.execute(&ctx, "SELECT pg_sleep(5)", &[]).await.unwrap_err();
/// assert_eq!(error.context_error(), Some(ctx::Error::DeadlineExceeded)); // after 100 ms
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Pool<T: CancelTls = NoTls> {
    pool: deadpool_postgres::Pool,
    canceller: Arc<Canceller<T>>,
}

impl<T: CancelTls> Pool<T> {
    /// Wraps `pool`, whose connections were made with `tls`.
    ///
    /// ```no_run
    /// # fn f(pool: deadpool_postgres::Pool) {
    /// let pool = ctx::postgres::Pool::new(pool, tokio_postgres::NoTls);
    /// # }
    /// ```
    pub fn new(pool: deadpool_postgres::Pool, tls: T) -> Pool<T> {
        let canceller = Arc::new(Canceller::new(pool.clone(), tls));
        Pool { pool, canceller }
    }

    /// The deadpool pool, for its status and for calls without a context.
    ///
    /// ```no_run
    /// # fn f(pool: ctx::postgres::Pool) {
    /// let idle = pool.inner().status().available;
    /// # }
    /// ```
    pub fn inner(&self) -> &deadpool_postgres::Pool {
        &self.pool
    }

    /// A connection, waited for under `ctx`.
    ///
    /// # Errors
    ///
    /// [`Error::Context`] when `ctx` ends first, [`Error::Pool`] when the
    /// pool cannot make one.
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// let mut client = pool.get(&ctx).await?;
    /// # Ok(()) }
    /// ```
    pub async fn get(&self, ctx: &Context<'_>) -> Result<Client<T>, Error> {
        if let Some(ended) = ContextEnded::of(ctx) {
            return Err(ended.into());
        }
        match ctx.run(self.pool.get()).await {
            Ok(object) => Ok(Client::new(object?, self.canceller.clone())),
            Err(error) => Err(ContextEnded::new(ctx, error).into()),
        }
    }

    /// Rows of `statement` on a connection of its own, Go's
    /// `DB.QueryContext`.
    ///
    /// # Errors
    ///
    /// As [`get`](Pool::get) and [`Client::query`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// let rows = pool.query(&ctx, "SELECT id, body FROM orders", &[]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn query<S>(
        &self,
        ctx: &Context<'_>,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Error>
    where
        S: ?Sized + ToStatement,
    {
        self.get(ctx).await?.query(ctx, statement, params).await
    }

    /// The one row of `statement` on a connection of its own, Go's
    /// `DB.QueryRowContext`.
    ///
    /// # Errors
    ///
    /// As [`get`](Pool::get) and [`Client::query_one`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// let one: i32 = pool.query_one(&ctx, "SELECT 1", &[]).await?.get(0);
    /// # Ok(()) }
    /// ```
    pub async fn query_one<S>(
        &self,
        ctx: &Context<'_>,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Row, Error>
    where
        S: ?Sized + ToStatement,
    {
        self.get(ctx).await?.query_one(ctx, statement, params).await
    }

    /// Runs `statement` on a connection of its own, Go's `DB.ExecContext`.
    ///
    /// # Errors
    ///
    /// As [`get`](Pool::get) and [`Client::execute`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// pool.execute(&ctx, "SELECT pg_sleep(1)", &[]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute<S>(
        &self,
        ctx: &Context<'_>,
        statement: &S,
        params: Params<'_>,
    ) -> Result<u64, Error>
    where
        S: ?Sized + ToStatement,
    {
        self.get(ctx).await?.execute(ctx, statement, params).await
    }
}

impl<T: CancelTls> fmt::Debug for Pool<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("status", &self.pool.status())
            .finish_non_exhaustive()
    }
}
