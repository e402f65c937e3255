//! A connection whose caller left: made clean off the caller's task, or
//! discarded, before the pool sees it again.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Object;

use super::canceller::{Cancelled, Canceller};
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
pub(super) fn settle<T: CancelTls>(
    object: Object,
    canceller: Arc<Canceller<T>>,
    unfinished: Unfinished,
) {
    let mut settling = Settling(Some(object));
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(async move { settling.make_clean(&canceller, unfinished).await });
        }
        Err(_) => drop(settling),
    }
}

/// A connection being made clean: discarded if dropped before it is done
/// (its task aborted, its runtime shut down), never returned half-clean.
struct Settling(Option<Object>);

impl Settling {
    /// Cancels the statement in flight, if any (see [`Canceller`]), then
    /// sends one more statement (`ROLLBACK` in a transaction, an empty
    /// query otherwise), which the server runs after the cancelled one, whose
    /// answer tokio-postgres reads and drops. Its success says the
    /// connection is idle and outside any transaction: it goes back to the
    /// pool. Any failure discards it.
    ///
    /// A cancel that reaches the backend after the statement was sent but
    /// before it started is ignored by the server, and the statement then
    /// runs: while that last statement waits, the cancel is sent again, at
    /// growing intervals.
    async fn make_clean<T: CancelTls>(&mut self, canceller: &Canceller<T>, unfinished: Unfinished) {
        let Some(object) = &self.0 else { return };
        let token = object.cancel_token();
        let cancel = || async {
            matches!(
                canceller.cancel(token.clone()).await,
                Ok(Cancelled::Signalled)
            )
        };
        if unfinished.statement && !cancel().await {
            return;
        }
        let settle = if unfinished.transaction {
            "ROLLBACK"
        } else {
            ""
        };
        let clean = {
            let last = object.batch_execute(settle);
            let mut last = std::pin::pin!(last);
            let mut wait = FIRST_RETRY;
            let finished = loop {
                match tokio::time::timeout(wait, &mut last).await {
                    Ok(finished) => break finished,
                    Err(_) if unfinished.statement => {
                        if !cancel().await {
                            return;
                        }
                        wait = (wait * 2).min(LAST_RETRY);
                    }
                    Err(_) => wait = LAST_RETRY,
                }
            };
            finished.is_ok()
        };
        if clean {
            // Back to the pool.
            drop(self.0.take());
        }
    }
}

/// When the cancel is sent again if the connection is still busy, then
/// twice as late each time, up to [`LAST_RETRY`].
const FIRST_RETRY: Duration = Duration::from_millis(2);
const LAST_RETRY: Duration = Duration::from_millis(100);

impl Drop for Settling {
    fn drop(&mut self) {
        if let Some(object) = self.0.take() {
            drop(Object::take(object));
        }
    }
}
