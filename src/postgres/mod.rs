//! Postgres under a context (feature `postgres`): tokio-postgres with a
//! deadpool-postgres pool, in the shape of Go's `database/sql`
//! (`QueryContext`, `ExecContext`, `BeginTx`).
//!
//! Dropping a Rust future stops only the Rust side: the statement keeps
//! running on the server, holding its connection, and a connection handed
//! back in the middle of its work may carry an open transaction into the
//! next request. Every call here takes the caller's [`Context`] instead,
//! and when the context ends while a statement runs:
//!
//! - **The caller returns at once** with the context's error and cause
//!   ([`Error::Context`]). It waits for nothing else.
//! - **The statement is cancelled on the server**: `pg_cancel_backend`,
//!   for the backend pid tokio-postgres' `CancelToken` holds, over one
//!   connection the pool's manager made outside the pool, so a full pool
//!   cannot hold it up. It returns once the server has signalled the
//!   backend, so the signal cannot hit a later statement on the same
//!   connection (Postgres' own cancel request, which returns before the
//!   server acts on it, is the fallback, and its connection is discarded).
//! - **The connection is made clean off the caller's task** before the
//!   pool sees it again: a task of its own cancels, then sends `ROLLBACK`
//!   (in a transaction) or an empty query, which completes after the
//!   cancelled statement's answer. Success hands the connection back to
//!   the pool, idle and outside any transaction; any failure discards it
//!   (the server then ends its session, rolling back).
//! - **Nothing is half-committed**: a transaction is committed only by
//!   [`Transaction::commit`] with a live context; a cancelled statement, a
//!   dropped [`Transaction`] or [`Client`] roll it back.
//!
//! The same holds when the caller's future is dropped by anything else (a
//! `select!`, a timeout): the connection lent to the statement settles
//! itself. The [`Client`] whose statement was cancelled is closed
//! ([`Error::Closed`]); get another from the pool.
//!
//! Uncancelled, a call costs one race against the context over the plain
//! driver (`benches/postgres.rs` measures it).
//!
//! ```no_run
//! use ctx::postgres::{Error, Pool};
//! use ctx::Context;
//!
//! async fn report(ctx: Context<'_>, pool: &Pool) -> Result<i64, Error> {
//!     // Ends with `ctx`: a slow report is cancelled on the server.
//!     let row = pool.query_one(&ctx, "SELECT count(*) FROM orders", &[]).await?;
//!     Ok(row.get(0))
//! }
//! ```
//!
//! `ctx::sqlx` (feature `sqlx`) keeps the same contract for sqlx.

mod canceller;
mod client;
mod error;
mod pool;
mod settle;
mod tls;
mod transaction;

pub use crate::context_ended::ContextEnded;
pub use client::{Client, Params};
pub use error::Error;
pub use pool::Pool;
pub use tls::CancelTls;
pub use transaction::Transaction;

#[cfg(doc)]
use crate::Context;
