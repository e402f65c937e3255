//! A transaction whose every statement runs under a context.

use std::fmt;

use tokio_postgres::{NoTls, Row, ToStatement};

use super::client::Params;
use super::{CancelTls, Client, Error};
use crate::context_ended::ContextEnded;
use crate::Context;

/// A transaction on a [`Client`], Go's `*sql.Tx`: nothing is committed
/// unless [`commit`](Transaction::commit) says so.
///
/// - A statement whose context ends is cancelled on the server, and the
///   transaction rolled back off the caller's task before its connection
///   goes back to the pool; the client is then closed.
/// - [`commit`](Transaction::commit) with a context already done rolls
///   back and returns the context's error. Once sent, `COMMIT` is not raced
///   against the context (as Go's `Tx.Commit`): its outcome is known.
/// - Dropped without `commit` or `rollback` (an early `?`), the transaction
///   is rolled back before the client's next statement, or, when the
///   client is dropped, off the caller's task before the pool sees the
///   connection again.
///
/// ```no_run
/// use ctx::postgres::{Error, Pool};
/// use ctx::Context;
///
/// async fn place(ctx: Context<'_>, pool: &Pool, body: &str) -> Result<i64, Error> {
///     let mut client = pool.get(&ctx).await?;
///     let mut tx = client.transaction(&ctx).await?;
///     let id: i64 = tx
///         .query_one(&ctx, "INSERT INTO orders (body) VALUES ($1) RETURNING id", &[&body])
///         .await?
///         .get(0);
///     tx.execute(&ctx, "INSERT INTO outbox (order_id) VALUES ($1)", &[&id]).await?;
///     tx.commit(&ctx).await?;
///     Ok(id)
/// }
/// ```
pub struct Transaction<'c, T: CancelTls = NoTls> {
    client: &'c mut Client<T>,
    finished: bool,
}

impl<'c, T: CancelTls> Transaction<'c, T> {
    pub(super) fn new(client: &'c mut Client<T>) -> Transaction<'c, T> {
        Transaction {
            client,
            finished: false,
        }
    }

    /// Rows of `statement`, as [`Client::query`].
    ///
    /// # Errors
    ///
    /// As [`Client::query`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, tx: &mut ctx::postgres::Transaction<'_>) -> Result<(), ctx::postgres::Error> {
    /// let rows = tx.query(&ctx, "SELECT id FROM orders FOR UPDATE", &[]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn query<S>(
        &mut self,
        ctx: &Context<'_>,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Vec<Row>, Error>
    where
        S: ?Sized + ToStatement,
    {
        self.client.query(ctx, statement, params).await
    }

    /// The one row of `statement`, as [`Client::query_one`].
    ///
    /// # Errors
    ///
    /// As [`Client::query`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, tx: &mut ctx::postgres::Transaction<'_>) -> Result<(), ctx::postgres::Error> {
    /// let count: i64 = tx.query_one(&ctx, "SELECT count(*) FROM orders", &[]).await?.get(0);
    /// # Ok(()) }
    /// ```
    pub async fn query_one<S>(
        &mut self,
        ctx: &Context<'_>,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Row, Error>
    where
        S: ?Sized + ToStatement,
    {
        self.client.query_one(ctx, statement, params).await
    }

    /// Runs `statement`, as [`Client::execute`].
    ///
    /// # Errors
    ///
    /// As [`Client::query`].
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, tx: &mut ctx::postgres::Transaction<'_>) -> Result<(), ctx::postgres::Error> {
    /// tx.execute(&ctx, "DELETE FROM outbox WHERE order_id = $1", &[&7_i64]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn execute<S>(
        &mut self,
        ctx: &Context<'_>,
        statement: &S,
        params: Params<'_>,
    ) -> Result<u64, Error>
    where
        S: ?Sized + ToStatement,
    {
        self.client.execute(ctx, statement, params).await
    }

    /// Commits, unless `ctx` is already done: then rolls back and returns
    /// its error. See the [type's docs](Transaction) for why `COMMIT` is
    /// not raced.
    ///
    /// # Errors
    ///
    /// [`Error::Context`] when `ctx` was done (nothing committed),
    /// [`Error::Postgres`] when `COMMIT` fails (nothing committed),
    /// [`Error::Closed`] after a cancelled statement (nothing committed).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, mut client: ctx::postgres::Client) -> Result<(), ctx::postgres::Error> {
    /// let tx = client.transaction(&ctx).await?;
    /// tx.commit(&ctx).await?;
    /// # Ok(()) }
    /// ```
    pub async fn commit(mut self, ctx: &Context<'_>) -> Result<(), Error> {
        self.finished = true;
        if let Some(ended) = ContextEnded::of(ctx) {
            self.client.abandon_transaction();
            return Err(ended.into());
        }
        self.client.finish("COMMIT").await
    }

    /// Rolls back (not raced against any context: it only undoes).
    ///
    /// # Errors
    ///
    /// [`Error::Postgres`] when the connection failed (the server then
    /// rolls back by itself), [`Error::Closed`] after a cancelled statement
    /// (already rolled back).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, mut client: ctx::postgres::Client) -> Result<(), ctx::postgres::Error> {
    /// let tx = client.transaction(&ctx).await?;
    /// tx.rollback().await?;
    /// # Ok(()) }
    /// ```
    pub async fn rollback(mut self) -> Result<(), Error> {
        self.finished = true;
        self.client.finish("ROLLBACK").await
    }
}

impl<T: CancelTls> Drop for Transaction<'_, T> {
    fn drop(&mut self) {
        if !self.finished {
            self.client.abandon_transaction();
        }
    }
}

impl<T: CancelTls> fmt::Debug for Transaction<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}
