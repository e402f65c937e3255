//! A pooled connection whose every statement runs under a context.

use std::fmt;

use deadpool_postgres::Object;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row, ToStatement};

use std::sync::Arc;

use super::canceller::Canceller;
use super::settle::{settle, Unfinished};
use super::{CancelTls, Error, Transaction};
use crate::context_ended::ContextEnded;
use crate::Context;

/// Parameters of a statement, as tokio-postgres takes them.
pub type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// A connection from a [`Pool`](super::Pool), Go's `*sql.Conn`: every
/// call takes the caller's context, and returns its error at once when it
/// ends, the statement then being cancelled on the server and the
/// connection made clean off the caller's task (see the
/// [module docs](super)). After that the client is [`Error::Closed`]: get
/// another one. Dropped, it goes back to the pool (after a `ROLLBACK`, run
/// off the caller's task, if a transaction was left open).
///
/// ```no_run
/// use ctx::postgres::{Error, Pool};
/// use ctx::Context;
///
/// async fn rename(ctx: Context<'_>, pool: &Pool, id: i64, name: &str) -> Result<u64, Error> {
///     let mut client = pool.get(&ctx).await?;
///     client.execute(&ctx, "UPDATE users SET name = $1 WHERE id = $2", &[&name, &id]).await
/// }
/// ```
pub struct Client<T: CancelTls = NoTls> {
    object: Option<Object>,
    canceller: Arc<Canceller<T>>,
    /// A [`Transaction`] is open.
    in_transaction: bool,
    /// A transaction was dropped unfinished: rolled back before the next
    /// statement, or when the client is dropped.
    rollback_pending: bool,
}

/// A connection lent to one statement: if the statement's future is
/// dropped before it gives the connection back (the context ended, or the
/// caller's own future was dropped), the connection is settled.
struct InFlight<T: CancelTls> {
    object: Option<Object>,
    canceller: Arc<Canceller<T>>,
    transaction: bool,
}

impl<T: CancelTls> InFlight<T> {
    fn client(&self) -> &tokio_postgres::Client {
        self.object.as_ref().expect("lent until landed")
    }

    fn land(mut self) -> Object {
        self.object.take().expect("lent until landed")
    }
}

impl<T: CancelTls> Drop for InFlight<T> {
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            let unfinished = Unfinished {
                statement: true,
                transaction: self.transaction,
            };
            settle(object, self.canceller.clone(), unfinished);
        }
    }
}

impl<T: CancelTls> Client<T> {
    pub(super) fn new(object: Object, canceller: Arc<Canceller<T>>) -> Client<T> {
        Client {
            object: Some(object),
            canceller,
            in_transaction: false,
            rollback_pending: false,
        }
    }

    /// Rows of `statement`, Go's `QueryContext`.
    ///
    /// # Errors
    ///
    /// [`Error::Context`] when `ctx` is done before or while the statement
    /// runs (the statement is then cancelled on the server),
    /// [`Error::Postgres`] when the database refuses it, [`Error::Closed`]
    /// after an earlier cancellation.
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// let mut client = pool.get(&ctx).await?;
    /// let rows = client.query(&ctx, "SELECT id FROM orders WHERE body = $1", &[&"tea"]).await?;
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
        let flight = self.lend(ctx).await?;
        let outcome = ctx.run(flight.client().query(statement, params)).await;
        self.land(ctx, flight, outcome)
    }

    /// The one row of `statement`, Go's `QueryRowContext`: an error when it
    /// returns none or more than one.
    ///
    /// # Errors
    ///
    /// As [`query`](Client::query).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// let mut client = pool.get(&ctx).await?;
    /// let one: i32 = client.query_one(&ctx, "SELECT 1", &[]).await?.get(0);
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
        let flight = self.lend(ctx).await?;
        let outcome = ctx.run(flight.client().query_one(statement, params)).await;
        self.land(ctx, flight, outcome)
    }

    /// The row of `statement`, if it returns one; an error when it returns
    /// more.
    ///
    /// # Errors
    ///
    /// As [`query`](Client::query).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// let mut client = pool.get(&ctx).await?;
    /// let row = client.query_opt(&ctx, "SELECT body FROM orders WHERE id = $1", &[&7_i64]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn query_opt<S>(
        &mut self,
        ctx: &Context<'_>,
        statement: &S,
        params: Params<'_>,
    ) -> Result<Option<Row>, Error>
    where
        S: ?Sized + ToStatement,
    {
        let flight = self.lend(ctx).await?;
        let outcome = ctx.run(flight.client().query_opt(statement, params)).await;
        self.land(ctx, flight, outcome)
    }

    /// Runs `statement`, returning the number of rows it changed, Go's
    /// `ExecContext`.
    ///
    /// # Errors
    ///
    /// As [`query`](Client::query).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// let mut client = pool.get(&ctx).await?;
    /// let deleted = client.execute(&ctx, "DELETE FROM orders WHERE id = $1", &[&7_i64]).await?;
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
        let flight = self.lend(ctx).await?;
        let outcome = ctx.run(flight.client().execute(statement, params)).await;
        self.land(ctx, flight, outcome)
    }

    /// Runs `statements` (one or more, separated by `;`, without
    /// parameters) in the simple query protocol.
    ///
    /// # Errors
    ///
    /// As [`query`](Client::query).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// let mut client = pool.get(&ctx).await?;
    /// client.batch_execute(&ctx, "CREATE TABLE IF NOT EXISTS t (id bigint)").await?;
    /// # Ok(()) }
    /// ```
    pub async fn batch_execute(
        &mut self,
        ctx: &Context<'_>,
        statements: &str,
    ) -> Result<(), Error> {
        let flight = self.lend(ctx).await?;
        let outcome = ctx.run(flight.client().batch_execute(statements)).await;
        self.land(ctx, flight, outcome)
    }

    /// Begins a transaction, Go's `BeginTx`: see [`Transaction`].
    ///
    /// # Errors
    ///
    /// As [`query`](Client::query).
    ///
    /// ```no_run
    /// # async fn f(ctx: ctx::Context<'_>, pool: ctx::postgres::Pool) -> Result<(), ctx::postgres::Error> {
    /// let mut client = pool.get(&ctx).await?;
    /// let mut tx = client.transaction(&ctx).await?;
    /// tx.execute(&ctx, "INSERT INTO orders (body) VALUES ($1)", &[&"tea"]).await?;
    /// tx.commit(&ctx).await?;
    /// # Ok(()) }
    /// ```
    pub async fn transaction(&mut self, ctx: &Context<'_>) -> Result<Transaction<'_, T>, Error> {
        self.batch_execute(ctx, "BEGIN").await?;
        self.in_transaction = true;
        Ok(Transaction::new(self))
    }

    /// Ends the open transaction with `COMMIT` or `ROLLBACK`, once begun not
    /// raced against any context (as Go's `Tx.Commit`): its outcome is
    /// then known. A statement that fails leaves the connection in no
    /// transaction.
    pub(super) async fn finish(&mut self, statement: &'static str) -> Result<(), Error> {
        let object = self.object.take().ok_or(Error::Closed)?;
        let flight = InFlight {
            object: Some(object),
            canceller: self.canceller.clone(),
            transaction: true,
        };
        let result = flight.client().batch_execute(statement).await;
        self.object = Some(flight.land());
        self.in_transaction = false;
        if result.is_err() {
            // COMMIT failed (a serialization failure, say) or the
            // connection broke: make sure no transaction is left open.
            self.rollback_pending = true;
        }
        Ok(result?)
    }

    /// A transaction was dropped without commit or rollback.
    pub(super) fn abandon_transaction(&mut self) {
        self.in_transaction = false;
        self.rollback_pending = true;
    }

    /// Lends the connection to one statement, once `ctx` is live and any
    /// abandoned transaction rolled back.
    async fn lend(&mut self, ctx: &Context<'_>) -> Result<InFlight<T>, Error> {
        if let Some(ended) = ContextEnded::of(ctx) {
            return Err(ended.into());
        }
        if self.rollback_pending {
            let flight = self.take(true)?;
            let outcome = ctx.run(flight.client().batch_execute("ROLLBACK")).await;
            self.land(ctx, flight, outcome)?;
            self.rollback_pending = false;
        }
        self.take(self.in_transaction)
    }

    fn take(&mut self, transaction: bool) -> Result<InFlight<T>, Error> {
        let object = self.object.take().ok_or(Error::Closed)?;
        Ok(InFlight {
            object: Some(object),
            canceller: self.canceller.clone(),
            transaction,
        })
    }

    /// Takes the connection back after its statement: when `ctx` ended
    /// first, `flight` is dropped here, which settles the connection off
    /// this task, and this client is closed.
    fn land<R>(
        &mut self,
        ctx: &Context<'_>,
        flight: InFlight<T>,
        outcome: Result<Result<R, tokio_postgres::Error>, crate::Error>,
    ) -> Result<R, Error> {
        match outcome {
            Ok(result) => {
                self.object = Some(flight.land());
                Ok(result?)
            }
            Err(error) => {
                drop(flight);
                Err(ContextEnded::new(ctx, error).into())
            }
        }
    }
}

impl<T: CancelTls> Drop for Client<T> {
    fn drop(&mut self) {
        if let Some(object) = self.object.take() {
            if self.in_transaction || self.rollback_pending {
                let unfinished = Unfinished {
                    statement: false,
                    transaction: true,
                };
                settle(object, self.canceller.clone(), unfinished);
            }
        }
    }
}

impl<T: CancelTls> fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("closed", &self.object.is_none())
            .field("in_transaction", &self.in_transaction)
            .finish_non_exhaustive()
    }
}
