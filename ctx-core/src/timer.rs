//! Deadlines, on tokio's timer.
//!
//! A task per deadline would cost more than the rest of a context: a
//! cache-aligned task allocation, then two cross-thread wake-ups to start
//! and to abort it, for a deadline that is usually cancelled long before it
//! passes. Instead every runtime gets one [`Queue`]: the armed deadlines
//! ordered by instant, and one driver task that sleeps on tokio's timer
//! until the earliest (so `tokio::time::pause()` drives it like any sleep),
//! cancels what is due, and sleeps again. Arming a deadline is an insert
//! under the queue's lock, disarming it a remove.
//!
//! The queue holds its nodes weakly and a node's [`Timer`] disarms itself
//! when the node is done or dropped, so an abandoned deadline context leaves
//! nothing behind. The queue's lock is never held while a node's is, nor the
//! reverse (the tree's invariant 4): the driver takes what is due out of the
//! queue before cancelling it.
//!
//! When a runtime shuts down, its driver task is dropped and its deadlines
//! could never fire: a context timed by it would stay live forever, and a
//! `done()` awaited elsewhere would hang. So the driver's drop closes the
//! queue and cancels every deadline it still held, with
//! [`Error::Canceled`] and a cause that says why ([`RUNTIME_GONE`]); a
//! deadline armed on a closed queue (through the handle of a runtime that
//! already shut down) is cancelled the same way at once.
//!
//! These locks are parking_lot's even under loom (arming and disarming
//! contend on one queue per runtime, for a few instructions): deadlines
//! need tokio's timer and are exercised by the paused-clock tests, not the
//! loom models.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use tokio::runtime::{self, Handle};
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

use crate::error::{into_cause, Cause, Error};
use crate::node::CancelNode;
use crate::sync::{Arc, Weak};

/// Deadlines further away than this never fire: no process runs that long,
/// and tokio's timer wheel has a horizon of its own.
const HORIZON: Duration = Duration::from_secs(60 * 60 * 24 * 365 * 30);

/// Orders deadlines by instant, then by arming order.
type Key = (Instant, u64);

/// The armed deadlines of one runtime.
#[derive(Default)]
struct Queue {
    armed: Mutex<Armed>,
    /// Signalled when a new deadline is the earliest, so the driver sleeps
    /// less.
    earlier: Notify,
}

#[derive(Default)]
struct Armed {
    deadlines: BTreeMap<Key, Deadline>,
    next_id: u64,
    /// Set when the driver is gone (its runtime shut down): nothing here
    /// would ever fire.
    closed: bool,
}

/// The cause of a deadline context cancelled because the runtime timing its
/// deadline shut down first.
pub(crate) const RUNTIME_GONE: &str = "ctx: the Tokio runtime timing this context's deadline \
     shut down before the deadline passed";

struct Deadline {
    node: Weak<CancelNode>,
    cause: Option<Cause>,
}

/// A node's armed deadline: disarmed (removed from its queue) when dropped.
pub(crate) struct Timer {
    queue: Arc<Queue>,
    key: Key,
}

impl Drop for Timer {
    fn drop(&mut self) {
        let removed = self.queue.lock().deadlines.remove(&self.key);
        // The cause may be the last owner of a user error: drop it unlocked.
        drop(removed);
    }
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Armed> {
        self.armed.lock()
    }

    /// Takes out the deadlines due at `now`; returns them and the next one.
    fn take_due(&self, now: Instant) -> (Vec<Deadline>, Option<Instant>) {
        let mut armed = self.lock();
        let mut due = Vec::new();
        while let Some(entry) = armed.deadlines.first_entry() {
            if entry.key().0 > now {
                return (due, Some(entry.key().0));
            }
            due.push(entry.remove());
        }
        (due, None)
    }
}

thread_local! {
    /// The queue of the runtime this thread last armed a deadline on: the
    /// common case skips the process-wide registry.
    static LAST_QUEUE: RefCell<Option<(runtime::Id, Arc<Queue>)>> = const { RefCell::new(None) };
}

/// Every live runtime's queue, for threads whose cache misses.
static QUEUES: Mutex<Vec<(runtime::Id, Weak<Queue>)>> = Mutex::new(Vec::new());

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
    let queue = queue_of(&runtime);
    let (key, earliest) = {
        let mut armed = queue.lock();
        if armed.closed {
            drop(armed);
            node.cancel(Error::Canceled, Some(into_cause(RUNTIME_GONE)));
            return;
        }
        let key = (deadline, armed.next_id);
        armed.next_id += 1;
        let node = Arc::downgrade(node);
        armed.deadlines.insert(key, Deadline { node, cause });
        (
            key,
            armed.deadlines.first_key_value().map(|(first, _)| *first) == Some(key),
        )
    };
    if earliest {
        queue.earlier.notify_one();
    }
    node.set_timer(Timer { queue, key });
}

/// How many deadlines are armed on the current runtime (0 outside one).
/// For tests of the no-leak guarantee.
pub(crate) fn armed_on_current_runtime() -> usize {
    Handle::try_current().map_or(0, |runtime| queue_of(&runtime).lock().deadlines.len())
}

fn queue_of(runtime: &Handle) -> Arc<Queue> {
    let id = runtime.id();
    LAST_QUEUE.with(|last| {
        if let Some((cached, queue)) = &*last.borrow() {
            if *cached == id {
                return queue.clone();
            }
        }
        let queue = shared_queue_of(runtime, id);
        *last.borrow_mut() = Some((id, queue.clone()));
        queue
    })
}

fn shared_queue_of(runtime: &Handle, id: runtime::Id) -> Arc<Queue> {
    let mut queues = QUEUES.lock();
    queues.retain(|(_, queue)| queue.strong_count() > 0);
    if let Some(queue) = queues
        .iter()
        .find(|(known, _)| *known == id)
        .and_then(|(_, queue)| queue.upgrade())
    {
        return queue;
    }
    // A sleep made here rather than in the driver, so a runtime built
    // without `enable_time` panics in the caller with tokio's own
    // explanation.
    drop(sleep_until(Instant::now()));
    let queue = Arc::new(Queue::default());
    queues.push((id, Arc::downgrade(&queue)));
    // A runtime already shut down drops the driver unpolled: its guard
    // closes the queue all the same.
    runtime.spawn(drive(CloseOnDrop(queue.clone())));
    queue
}

/// The driver's hold on its queue. Dropped with the driver, when the
/// runtime shuts down: closes the queue and cancels what it still held.
struct CloseOnDrop(Arc<Queue>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        let orphaned = {
            let mut armed = self.0.lock();
            armed.closed = true;
            std::mem::take(&mut armed.deadlines)
        };
        // Cancelled unlocked: a node's cancel disarms its timer, which
        // takes the queue's lock.
        for deadline in orphaned.into_values() {
            if let Some(node) = deadline.node.upgrade() {
                node.cancel(Error::Canceled, Some(into_cause(RUNTIME_GONE)));
            }
        }
    }
}

/// The runtime's driver: lives as long as the runtime, cancelling each
/// deadline as it passes.
async fn drive(queue: CloseOnDrop) {
    let queue = &queue.0;
    loop {
        // Registered before the queue is read, so an earlier deadline armed
        // after this read still wakes the sleep below.
        let mut earlier = pin!(queue.earlier.notified());
        earlier.as_mut().enable();
        let (due, next) = queue.take_due(Instant::now());
        for deadline in due {
            if let Some(node) = deadline.node.upgrade() {
                node.cancel(Error::DeadlineExceeded, deadline.cause);
            }
        }
        match next {
            Some(next) => {
                let mut sleep = pin!(sleep_until(next));
                poll_fn(|cx| {
                    if sleep.as_mut().poll(cx).is_ready() || earlier.as_mut().poll(cx).is_ready() {
                        Poll::Ready(())
                    } else {
                        Poll::Pending
                    }
                })
                .await;
            }
            None => earlier.await,
        }
    }
}
