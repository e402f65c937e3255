//! A sqlx transaction whose every statement runs under a context.

use std::fmt;

use ::sqlx::postgres::{PgQueryResult, PgRow};
use ::sqlx::{Execute, Postgres};

use super::{Conn, Error};
use crate::context_ended::ContextEnded;
use crate::Context;

/// A transaction on a [`Conn`], Go's `*sql.Tx`: nothing is committed
/// unless [`commit`](Transaction::commit) says so.
///
/// - A statement whose context ends is ended on the server with its
///   connection, which is discarded: the server rolls the transaction back.
/// - [`commit`](Transaction::commit) with a context already done rolls
///   back and returns the context's error. Once sent, `COMMIT` is not raced
///   against the context (as Go's `Tx.Commit`): its outcome is known.
/// - Dropped without `commit` or `rollback` (an early `?`), the transaction
///   is rolled back before the connection's next statement, or, when the
///   [`Conn`] is dropped, off the caller's task before the pool sees the
///   connection again.
///
/// ```no_run
/// use ctx::sqlx::{Error, Pool};
/// use ctx::Context;
/// use sqlx::Row;
///
/// async fn place(ctx: Context<'_>, pool: &Pool, body: &str) -> Result<i64, Error> {
///     let mut conn = pool.acquire(&ctx).await?;
///     let mut tx = conn.begin(&ctx).await?;
///     let insert = sqlx::query("INSERT INTO orders (body) VALUES ($1) RETURNING id").bind(body);
///     let id: i64 = tx.fetch_one(&ctx, insert).await?.get(0);
///     tx.execute(&ctx, sqlx::query("INSERT INTO outbox (order_id) VALUES ($1)").bind(id)).await?;
///     tx.commit(&ctx).await?;
///     Ok(id)
/// }
/// ```
pub struct Transaction<'c> {
    conn: &'c mut Conn,
    finished: bool,
}

impl<'c> Transaction<'c> {
    pub(super) fn new(conn: &'c mut Conn) -> Transaction<'c> {
        Transaction {
            conn,
            finished: false,
        }
    }

    /// Runs `query`, as [`Conn::execute`].
    ///
    /// # Errors
    ///
    /// As [`Conn::execute`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, tx: &mut ctx::sqlx::Transaction<'_>) -> Result<(), ctx::sqlx::Error> {
    /// tx.execute(&ctx, "DELETE FROM outbox").await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute<'q, E>(
        &mut self,
        ctx: &Context<'_>,
        query: E,
    ) -> Result<PgQueryResult, Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        self.conn.execute(ctx, query).await
    }

    /// Every row of `query`, as [`Conn::fetch_all`].
    ///
    /// # Errors
    ///
    /// As [`Conn::execute`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, tx: &mut ctx::sqlx::Transaction<'_>) -> Result<(), ctx::sqlx::Error> {
    /// let rows = tx.fetch_all(&ctx, "SELECT id FROM orders FOR UPDATE").await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_all<'q, E>(
        &mut self,
        ctx: &Context<'_>,
        query: E,
    ) -> Result<Vec<PgRow>, Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        self.conn.fetch_all(ctx, query).await
    }

    /// The first row of `query`, as [`Conn::fetch_one`].
    ///
    /// # Errors
    ///
    /// As [`Conn::execute`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, tx: &mut ctx::sqlx::Transaction<'_>) -> Result<(), ctx::sqlx::Error> {
    /// let row = tx.fetch_one(&ctx, "SELECT count(*) FROM orders").await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_one<'q, E>(&mut self, ctx: &Context<'_>, query: E) -> Result<PgRow, Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        self.conn.fetch_one(ctx, query).await
    }

    /// Commits, unless `ctx` is already done: then rolls back and returns
    /// its error. See the [type's docs](Transaction) for why `COMMIT` is
    /// not raced.
    ///
    /// # Errors
    ///
    /// [`Error::Context`] when `ctx` was done, [`Error::Sqlx`] when
    /// `COMMIT` fails, [`Error::Closed`] after a cancelled statement:
    /// nothing committed in each case.
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, mut conn: ctx::sqlx::Conn) -> Result<(), ctx::sqlx::Error> {
    /// let tx = conn.begin(&ctx).await?;
    /// tx.commit(&ctx).await?;
    /// # Ok(()) }
    /// ```
    pub async fn commit(mut self, ctx: &Context<'_>) -> Result<(), Error> {
        self.finished = true;
        if let Some(ended) = ContextEnded::of(ctx) {
            self.conn.abandon_transaction();
            return Err(ended.into());
        }
        self.conn.finish("COMMIT").await
    }

    /// Rolls back (not raced against any context: it only undoes).
    ///
    /// # Errors
    ///
    /// [`Error::Sqlx`] when the connection failed (the server then rolls
    /// back by itself), [`Error::Closed`] after a cancelled statement
    /// (already rolled back).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, mut conn: ctx::sqlx::Conn) -> Result<(), ctx::sqlx::Error> {
    /// let tx = conn.begin(&ctx).await?;
    /// tx.rollback().await?;
    /// # Ok(()) }
    /// ```
    pub async fn rollback(mut self) -> Result<(), Error> {
        self.finished = true;
        self.conn.finish("ROLLBACK").await
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.abandon_transaction();
        }
    }
}

impl fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("conn", &self.conn)
            .finish_non_exhaustive()
    }
}
