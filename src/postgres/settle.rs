//! A connection whose caller left: made clean off the caller's task, or
//! discarded, before the pool sees it again.

use deadpool_postgres::Object;

use super::CancelTls;

/// Where a connection handed back in the middle of its work stands.
#[derive(Clone, Copy, Debug)]
pub(super) struct Unfinished {
    /// A statement was sent and its answer not read: it may still run on
    /// the server.
    pub(super) statement: bool,
    /// A transaction is open (maybe failed by a cancelled statement).
    pub(super) transaction: bool,
}

/// Hands `object` to a task of its own that makes it clean, then returns
/// it to the pool; without a runtime to run that task, closes it (the
/// server then ends the session, rolling back what was open).
pub(super) fn settle<T: CancelTls>(object: Object, tls: T, unfinished: Unfinished) {
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(make_clean(object, tls, unfinished));
        }
        Err(_) => drop(Object::take(object)),
    }
}

/// Cancels the statement in flight, if any, and waits for it to be gone:
/// the cancel request is answered (the server has signalled the backend)
/// before anything else is sent, so it cannot hit a later statement; then
/// one more statement (`ROLLBACK` in a transaction, an empty query
/// otherwise) goes through the connection, after the cancelled one's
/// answer, which tokio-postgres reads and drops. Its success says the
/// connection is idle and outside any transaction: it goes back to the
/// pool. Any failure discards the connection.
async fn make_clean<T: CancelTls>(object: Object, tls: T, unfinished: Unfinished) {
    if unfinished.statement && tls.cancel(object.cancel_token()).await.is_err() {
        drop(Object::take(object));
        return;
    }
    let settle = if unfinished.transaction {
        "ROLLBACK"
    } else {
        ""
    };
    match object.batch_execute(settle).await {
        Ok(()) => drop(object),
        Err(_) => drop(Object::take(object)),
    }
}
