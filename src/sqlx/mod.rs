//! Postgres under a context (feature `sqlx`): sqlx's `PgPool` in the shape
//! of Go's `database/sql` (`QueryContext`, `ExecContext`, `BeginTx`), with
//! the contract `ctx::postgres` (feature `postgres`) keeps for
//! tokio-postgres.
//!
//! A sqlx statement future dropped mid-protocol leaves its connection
//! with answers nobody read, and a pool that takes it back may hand an
//! open transaction to the next request. Every call here takes the
//! caller's [`Context`] instead, and when the context ends while a
//! statement runs:
//!
//! - **The caller returns at once** with the context's error and cause
//!   ([`Error::Context`]). It waits for nothing else.
//! - **The statement ends on the server.** sqlx exposes neither the
//!   backend's pid nor its cancel key, so no cancel request can name the
//!   statement's backend; instead the connection is taken out of the pool
//!   and closed, and its backend, which checks for its client every
//!   [`CLIENT_CHECK_INTERVAL`] while it runs a statement (the pool sets
//!   Postgres' `client_connection_check_interval` on every connection),
//!   aborts the statement and ends the session. Nothing waits on the pool
//!   it protects: there is no canceller connection at all.
//! - **No connection is handed back mid-protocol**: the one whose statement
//!   was cut is discarded, never returned to the pool (which opens another
//!   when it needs one).
//! - **Nothing is half-committed**: a transaction is committed only by
//!   [`Transaction::commit`] with a live context; a cancelled statement
//!   ends the session (the server rolls back), and a dropped
//!   [`Transaction`] or [`Conn`] is rolled back before its connection is
//!   used again.
//!
//! The same holds when the caller's future is dropped by anything else (a
//! `select!`, a timeout). The [`Conn`] whose statement was cancelled is
//! closed ([`Error::Closed`]); acquire another.
//!
//! ```no_run
//! use ctx::sqlx::{Error, Pool};
//! use ctx::Context;
//! use sqlx::Row;
//!
//! async fn report(ctx: Context<'_>, pool: &Pool) -> Result<i64, Error> {
//!     // Ends with `ctx`: a slow report is ended on the server.
//!     let row = pool.fetch_one(&ctx, "SELECT count(*) FROM orders").await?;
//!     Ok(row.get(0))
//! }
//! ```

mod conn;
mod error;
mod pool;
mod transaction;

pub use crate::context_ended::ContextEnded;
pub use conn::Conn;
pub use error::Error;
pub use pool::{Pool, CLIENT_CHECK_INTERVAL};
pub use transaction::Transaction;

#[cfg(doc)]
use crate::Context;
