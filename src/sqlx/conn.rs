//! A pooled sqlx connection whose every statement runs under a context.

use std::fmt;

use ::sqlx::pool::PoolConnection;
use ::sqlx::postgres::{PgQueryResult, PgRow};
use ::sqlx::{Execute, Executor, PgConnection, Postgres};

use super::{Error, Transaction};
use crate::context_ended::ContextEnded;
use crate::Context;

/// A connection from a [`Pool`](super::Pool), Go's `*sql.Conn`: every
/// call takes the caller's context and returns its error at once when it
/// ends; the connection is then discarded, which ends the statement on the
/// server (see the [module docs](super)), and this `Conn` is
/// [`Error::Closed`]. Dropped, it goes back to the pool (after a
/// `ROLLBACK`, run off the caller's task, if a transaction was left open).
///
/// Queries are sqlx's: `sqlx::query(..)` with its binds, or a `&str`.
///
/// ```no_run
/// use ctx::sqlx::{Error, Pool};
/// use ctx::Context;
///
/// async fn rename(ctx: Context<'_>, pool: &Pool, id: i64, name: &str) -> Result<u64, Error> {
///     let mut conn = pool.acquire(&ctx).await?;
///     let query = sqlx::query("UPDATE users SET name = $1 WHERE id = $2").bind(name).bind(id);
///     Ok(conn.execute(&ctx, query).await?.rows_affected())
/// }
/// ```
pub struct Conn {
    conn: Option<PoolConnection<Postgres>>,
    /// A [`Transaction`] is open.
    in_transaction: bool,
    /// A transaction was dropped unfinished: rolled back before the next
    /// statement, or when this is dropped.
    rollback_pending: bool,
}

/// A connection lent to one statement: if the statement's future is
/// dropped before it gives the connection back (the context ended, or the
/// caller's own future was dropped), the connection is discarded.
struct InFlight {
    conn: Option<PoolConnection<Postgres>>,
}

impl InFlight {
    fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("lent until landed")
    }

    fn land(mut self) -> PoolConnection<Postgres> {
        self.conn.take().expect("lent until landed")
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Out of the pool (which may open a replacement), then closed:
            // the socket's end is what the server's connection check sees.
            drop(conn.detach());
        }
    }
}

impl Conn {
    pub(super) fn new(conn: PoolConnection<Postgres>) -> Conn {
        Conn {
            conn: Some(conn),
            in_transaction: false,
            rollback_pending: false,
        }
    }

    /// Runs `query`, Go's `ExecContext`.
    ///
    /// # Errors
    ///
    /// [`Error::Context`] when `ctx` is done before or while the statement
    /// runs (the statement is then ended on the server), [`Error::Sqlx`]
    /// when the database refuses it, [`Error::Closed`] after an earlier
    /// cancellation.
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::sqlx::Pool) -> Result<(), ctx::sqlx::Error> {
    /// let mut conn = pool.acquire(&ctx).await?;
    /// conn.execute(&ctx, sqlx::query("DELETE FROM orders WHERE id = $1").bind(7_i64)).await?;
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
        let mut flight = self.lend(ctx).await?;
        let outcome = ctx.run(flight.conn().execute(query)).await;
        self.land(ctx, flight, outcome)
    }

    /// Every row of `query`, Go's `QueryContext`.
    ///
    /// # Errors
    ///
    /// As [`execute`](Conn::execute).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::sqlx::Pool) -> Result<(), ctx::sqlx::Error> {
    /// use sqlx::Row;
    /// let mut conn = pool.acquire(&ctx).await?;
    /// let rows = conn.fetch_all(&ctx, "SELECT id FROM orders").await?;
    /// let ids: Vec<i64> = rows.iter().map(|row| row.get(0)).collect();
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
        let mut flight = self.lend(ctx).await?;
        let outcome = ctx.run(flight.conn().fetch_all(query)).await;
        self.land(ctx, flight, outcome)
    }

    /// The first row of `query`, Go's `QueryRowContext`: an error when
    /// there is none.
    ///
    /// # Errors
    ///
    /// As [`execute`](Conn::execute).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::sqlx::Pool) -> Result<(), ctx::sqlx::Error> {
    /// use sqlx::Row;
    /// let mut conn = pool.acquire(&ctx).await?;
    /// let one: i32 = conn.fetch_one(&ctx, "SELECT 1").await?.get(0);
    /// # Ok(()) }
    /// ```
    pub async fn fetch_one<'q, E>(&mut self, ctx: &Context<'_>, query: E) -> Result<PgRow, Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let mut flight = self.lend(ctx).await?;
        let outcome = ctx.run(flight.conn().fetch_one(query)).await;
        self.land(ctx, flight, outcome)
    }

    /// The first row of `query`, if any.
    ///
    /// # Errors
    ///
    /// As [`execute`](Conn::execute).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::sqlx::Pool) -> Result<(), ctx::sqlx::Error> {
    /// let mut conn = pool.acquire(&ctx).await?;
    /// let row = conn.fetch_optional(&ctx, sqlx::query("SELECT body FROM orders WHERE id = $1").bind(7_i64)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn fetch_optional<'q, E>(
        &mut self,
        ctx: &Context<'_>,
        query: E,
    ) -> Result<Option<PgRow>, Error>
    where
        E: 'q + Execute<'q, Postgres>,
    {
        let mut flight = self.lend(ctx).await?;
        let outcome = ctx.run(flight.conn().fetch_optional(query)).await;
        self.land(ctx, flight, outcome)
    }

    /// Begins a transaction, Go's `BeginTx`: see [`Transaction`].
    ///
    /// # Errors
    ///
    /// As [`execute`](Conn::execute).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::sqlx::Pool) -> Result<(), ctx::sqlx::Error> {
    /// let mut conn = pool.acquire(&ctx).await?;
    /// let mut tx = conn.begin(&ctx).await?;
    /// tx.execute(&ctx, sqlx::query("INSERT INTO orders (body) VALUES ($1)").bind("tea")).await?;
    /// tx.commit(&ctx).await?;
    /// # Ok(()) }
    /// ```
    pub async fn begin(&mut self, ctx: &Context<'_>) -> Result<Transaction<'_>, Error> {
        self.execute(ctx, "BEGIN").await?;
        self.in_transaction = true;
        Ok(Transaction::new(self))
    }

    /// Ends the open transaction with `COMMIT` or `ROLLBACK`, once begun not
    /// raced against any context (as Go's `Tx.Commit`): its outcome is
    /// then known.
    pub(super) async fn finish(&mut self, statement: &'static str) -> Result<(), Error> {
        let mut flight = self.take()?;
        let result = flight.conn().execute(statement).await;
        self.conn = Some(flight.land());
        self.in_transaction = false;
        if result.is_err() {
            self.rollback_pending = true;
        }
        result.map(drop).map_err(Error::Sqlx)
    }

    /// A transaction was dropped without commit or rollback.
    pub(super) fn abandon_transaction(&mut self) {
        self.in_transaction = false;
        self.rollback_pending = true;
    }

    /// Lends the connection to one statement, once `ctx` is live and any
    /// abandoned transaction rolled back.
    async fn lend(&mut self, ctx: &Context<'_>) -> Result<InFlight, Error> {
        if let Some(ended) = ContextEnded::of(ctx) {
            return Err(ended.into());
        }
        if self.rollback_pending {
            let mut flight = self.take()?;
            let outcome = ctx.run(flight.conn().execute("ROLLBACK")).await;
            self.land(ctx, flight, outcome)?;
            self.rollback_pending = false;
        }
        self.take()
    }

    fn take(&mut self) -> Result<InFlight, Error> {
        let conn = self.conn.take().ok_or(Error::Closed)?;
        Ok(InFlight { conn: Some(conn) })
    }

    /// Takes the connection back after its statement: when `ctx` ended
    /// first, `flight` is dropped here, which discards the connection, and
    /// this is closed.
    fn land<R>(
        &mut self,
        ctx: &Context<'_>,
        flight: InFlight,
        outcome: Result<Result<R, ::sqlx::Error>, crate::Error>,
    ) -> Result<R, Error> {
        match outcome {
            Ok(result) => {
                self.conn = Some(flight.land());
                Ok(result?)
            }
            Err(error) => {
                drop(flight);
                Err(ContextEnded::new(ctx, error).into())
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        if !(self.in_transaction || self.rollback_pending) {
            return;
        }
        // Rolled back off the caller's task, then back to the pool; without
        // a runtime, or if the rollback fails, discarded (the server rolls
        // back when the session ends).
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if conn.execute("ROLLBACK").await.is_err() {
                        drop(conn.detach());
                    }
                });
            }
            Err(_) => drop(conn.detach()),
        }
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("closed", &self.conn.is_none())
            .field("in_transaction", &self.in_transaction)
            .finish_non_exhaustive()
    }
}
