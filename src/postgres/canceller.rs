//! Cancels a pooled connection's statement on the server, over a
//! connection of its own.

use std::sync::{Arc, Mutex};

use deadpool::managed::Manager as _;
use deadpool_postgres::ClientWrapper;
use tokio::io::AsyncReadExt;
use tokio_postgres::{CancelToken, NoTls};

use super::CancelTls;

/// A pool's canceller: `pg_cancel_backend` over one connection made by the
/// pool's manager but never part of the pool, so a pool whose every
/// connection is busy cannot hold a cancellation up.
///
/// `pg_cancel_backend` returns once the server has signalled the backend:
/// whatever is sent on the cancelled connection afterwards runs after the
/// cancellation, so the connection can be reused. Postgres' own cancel
/// request (tokio-postgres' `cancel_query`) returns when the request is
/// sent, before the server acts on it; a late signal would cancel the next
/// user's statement. It is the fallback, when the backend's pid cannot be
/// had, and the connection it cancelled is then discarded.
pub(super) struct Canceller<T> {
    pool: deadpool_postgres::Pool,
    tls: T,
    connection: Mutex<Option<Arc<ClientWrapper>>>,
}

/// Whether a cancelled connection may go back to the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Cancelled {
    /// The server has signalled the backend.
    Signalled,
    /// Requested only: the connection must not be reused.
    Requested,
}

impl<T: CancelTls> Canceller<T> {
    pub(super) fn new(pool: deadpool_postgres::Pool, tls: T) -> Canceller<T> {
        Canceller {
            pool,
            tls,
            connection: Mutex::new(None),
        }
    }

    /// Cancels the statement running on `token`'s connection.
    pub(super) async fn cancel(
        &self,
        token: CancelToken,
    ) -> Result<Cancelled, tokio_postgres::Error> {
        if let Some(pid) = backend_pid(&token).await {
            if let Some(connection) = self.connection().await {
                let signalled = connection
                    .query_one("SELECT pg_cancel_backend($1)", &[&pid])
                    .await;
                if signalled.is_ok() {
                    return Ok(Cancelled::Signalled);
                }
            }
        }
        self.tls.cancel(token).await.map(|()| Cancelled::Requested)
    }

    /// The canceller's connection, made on first use and again when it
    /// broke.
    async fn connection(&self) -> Option<Arc<ClientWrapper>> {
        let current = self.connection.lock().ok()?.clone();
        if let Some(connection) = current.filter(|connection| !connection.is_closed()) {
            return Some(connection);
        }
        let made = Arc::new(self.pool.manager().create().await.ok()?);
        *self.connection.lock().ok()? = Some(made.clone());
        Some(made)
    }
}

/// The backend's pid, read from the cancel request tokio-postgres makes
/// for `token` (it has no accessor for it), written into memory and never
/// sent. `None` when the connection's configuration demands TLS of every
/// connection (`sslmode=require`), which this in-memory stream cannot
/// offer.
async fn backend_pid(token: &CancelToken) -> Option<i32> {
    // CancelRequest: length 16, code 80877102, pid, secret key. An
    // SSLRequest (length 8, code 80877103) comes first under
    // `sslmode=require`.
    const CANCEL_REQUEST: [u8; 8] = [0, 0, 0, 16, 0x04, 0xd2, 0x16, 0x2e];
    let (mut ours, mut theirs) = tokio::io::duplex(64);
    let reading = async move {
        let mut packet = [0; 16];
        theirs.read_exact(&mut packet[..8]).await.ok()?;
        if packet[..8] != CANCEL_REQUEST {
            return None;
        }
        theirs.read_exact(&mut packet[8..]).await.ok()?;
        Some(i32::from_be_bytes([
            packet[8], packet[9], packet[10], packet[11],
        ]))
    };
    let (_, pid) = tokio::join!(token.cancel_query_raw(&mut ours, NoTls), reading);
    pid
}
