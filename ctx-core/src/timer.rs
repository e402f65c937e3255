//! Deadlines, on tokio's timer.
//!
//! A deadline node owns one timer task, which holds the node weakly: the
//! timer never keeps a context alive, and it is aborted as soon as the node
//! is done or dropped, so an abandoned deadline context leaves nothing
//! behind.

use tokio::runtime::Handle;
use tokio::time::{sleep_until, Instant};

use crate::error::{Cause, Error};
use crate::node::CancelNode;
use crate::sync::Arc;

/// Deadlines further away than this never fire: no process runs that long,
/// and tokio's timer wheel has a horizon of its own.
const HORIZON: std::time::Duration = std::time::Duration::from_secs(60 * 60 * 24 * 365 * 30);

/// Cancels `node` with [`Error::DeadlineExceeded`] and `cause` at
/// `deadline`, or at once if the deadline has passed.
pub(crate) fn arm(node: &Arc<CancelNode>, deadline: Instant, cause: Option<Cause>) {
    if node.err().is_some() {
        // Born done, under a done parent: nothing left to time.
        return;
    }
    let now = Instant::now();
    if deadline <= now {
        node.cancel(Error::DeadlineExceeded, cause);
        return;
    }
    if deadline.duration_since(now) > HORIZON {
        return;
    }
    let Ok(runtime) = Handle::try_current() else {
        panic!(
            "ctx: a context with a deadline needs a Tokio runtime for its timer, and none is \
             running on this thread; derive deadline contexts inside the runtime \
             (#[tokio::main], Runtime::block_on) or after `Handle::enter()`"
        );
    };
    // Created here rather than in the task, so a runtime built without
    // `enable_time` panics in the caller with tokio's own explanation.
    let sleep = sleep_until(deadline);
    let node_ref = Arc::downgrade(node);
    let timer = runtime.spawn(async move {
        sleep.await;
        if let Some(node) = node_ref.upgrade() {
            node.cancel(Error::DeadlineExceeded, cause);
        }
    });
    node.set_timer(timer.abort_handle());
}
