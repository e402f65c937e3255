//! Deadlines, on tokio's timer.
//!
//! A task per deadline would cost more than the rest of a context: a
//! cache-aligned task allocation, then two cross-thread wake-ups to start
//! and to abort it, for a deadline that is usually cancelled long before it
//! passes. Instead each runtime keeps its armed deadlines in [`Shard`]s, one
//! per slot of threads (like Go's timer heap per P): a thread arms in its
//! own shard, and disarms there unless another thread ends the context, so
//! two threads making deadline contexts at once share no lock (only the
//! reference count of the runtime's handle, which `Handle::try_current`
//! clones: tokio has no other way to tell which runtime is current). Each
//! shard has a driver task that sleeps on tokio's timer until the shard's
//! earliest deadline (so `tokio::time::pause()` drives it like any sleep),
//! cancels what is due, and sleeps again.
//!
//! A shard is a binary heap of `(instant, id)` over a slab of the live
//! deadlines. Arming pushes onto the heap, which for deadlines armed in
//! the order they fall (a fixed timeout per request) stops at once;
//! disarming only empties the slab slot, and the heap entry goes stale
//! (Go's timers are deleted the same lazy way). Stale entries are dropped
//! when they reach the top, and all at once when they outnumber the live
//! ones, so a shard's memory stays within twice its live deadlines (plus a
//! small constant) however many are armed and cancelled.
//!
//! The shards hold their nodes weakly and a node's [`Timer`] disarms itself
//! when the node is done or dropped, so an abandoned deadline context leaves
//! nothing behind. A shard's lock is never held while a node's is, nor the
//! reverse (the tree's invariant 4): the driver takes what is due out of
//! its shard before cancelling it.
//!
//! When a runtime shuts down, its drivers are dropped and their deadlines
//! could never fire: a context timed by one would stay live forever, and a
//! `done()` awaited elsewhere would hang. So a driver's drop closes its
//! shard and cancels every deadline it still held, with [`Error::Canceled`]
//! and a cause that says why ([`RUNTIME_GONE`]); a deadline armed on a
//! closed shard (through the handle of a runtime that already shut down) is
//! cancelled the same way at once.
//!
//! These locks are parking_lot's even under loom: deadlines need tokio's
//! timer and are exercised by the paused-clock tests and the multi-threaded
//! stress tests, not the loom models.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// How many shards a runtime's deadlines may spread over. Threads take
/// shard slots in turn, so up to this many threads never share one; a
/// shard (and its driver task) exists only once a thread arms a deadline
/// in it, so an unused slot costs nothing.
const SHARDS: usize = 32;

/// Below this many stale heap entries a shard does not compact.
const COMPACT_AT: usize = 64;

/// The armed deadlines of one runtime, for the threads of one shard slot.
#[derive(Default)]
struct Shard {
    armed: Mutex<Armed>,
    /// Signalled when a deadline earlier than the driver's next wake-up is
    /// armed, so the driver sleeps less.
    earlier: Notify,
}

#[derive(Default)]
struct Armed {
    /// One entry per deadline armed here and not yet popped, earliest
    /// first; an entry whose slot no longer holds its id is stale.
    heap: BinaryHeap<Reverse<Due>>,
    /// The live deadlines, by slot.
    slots: Vec<Option<Live>>,
    free: Vec<u32>,
    /// How many slots are occupied: the heap holds this many live entries,
    /// and the rest of it is stale.
    live: usize,
    next_id: u64,
    /// When the driver wakes next on its own (`None`: only when notified).
    /// A deadline earlier than this notifies it; any other does not, so a
    /// stream of deadlines armed in order wakes no other thread.
    driver_wakes_at: Option<Instant>,
    /// Set when the driver is gone (its runtime shut down): nothing here
    /// would ever fire.
    closed: bool,
}

/// A heap entry: ordered by instant, then by arming order.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    at: Instant,
    id: u64,
    slot: u32,
}

struct Live {
    id: u64,
    node: Weak<CancelNode>,
    cause: Option<Cause>,
}

/// The cause of a deadline context cancelled because the runtime timing its
/// deadline shut down first.
pub(crate) const RUNTIME_GONE: &str = "ctx: the Tokio runtime timing this context's deadline \
     shut down before the deadline passed";

/// A node's armed deadline: disarmed (its slot emptied) when dropped.
pub(crate) struct Timer {
    shard: Arc<Shard>,
    slot: u32,
    id: u64,
}

impl Drop for Timer {
    fn drop(&mut self) {
        let removed = self.shard.lock().disarm(self.slot, self.id);
        // The cause may be the last owner of a user error: drop it unlocked.
        drop(removed);
    }
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Armed> {
        self.armed.lock()
    }
}

impl Armed {
    /// Adds a deadline; returns its slot and id, and whether the driver
    /// must be notified to wake earlier.
    fn arm(
        &mut self,
        at: Instant,
        node: Weak<CancelNode>,
        cause: Option<Cause>,
    ) -> (u32, u64, bool) {
        let id = self.next_id;
        self.next_id += 1;
        let live = Some(Live { id, node, cause });
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = live;
                slot
            }
            None => {
                self.slots.push(live);
                u32::try_from(self.slots.len() - 1)
                    .expect("more than 4 billion deadlines armed at once on one shard")
            }
        };
        self.live += 1;
        self.heap.push(Reverse(Due { at, id, slot }));
        let notify = self.driver_wakes_at.is_none_or(|wakes_at| at < wakes_at);
        if notify {
            self.driver_wakes_at = Some(at);
        }
        (slot, id, notify)
    }

    /// Empties `slot` if it still holds deadline `id` (the driver may have
    /// taken it when it came due).
    fn take(&mut self, slot: u32, id: u64) -> Option<Live> {
        if !holds(&self.slots, slot, id) {
            return None;
        }
        let live = self.slots[slot as usize].take();
        self.free.push(slot);
        self.live -= 1;
        live
    }

    /// Disarms deadline `id`, then drops stale heap entries if they
    /// outnumber the live ones.
    fn disarm(&mut self, slot: u32, id: u64) -> Option<Live> {
        let live = self.take(slot, id)?;
        if self.live == 0 {
            // Every entry left is stale: start over, and give back the
            // memory of a burst.
            if self.slots.len() <= COMPACT_AT {
                self.heap.clear();
                self.slots.clear();
                self.free.clear();
            } else {
                self.heap = BinaryHeap::new();
                self.slots = Vec::new();
                self.free = Vec::new();
            }
        } else {
            let stale = self.heap.len() - self.live;
            if stale >= COMPACT_AT && stale > self.live {
                let slots = &self.slots;
                self.heap
                    .retain(|Reverse(due)| holds(slots, due.slot, due.id));
            }
        }
        Some(live)
    }

    /// Takes out the deadlines due at `now`; returns them and the instant
    /// the driver sleeps until (the next heap entry's), which arming
    /// compares with from now on.
    fn take_due(&mut self, now: Instant) -> (Vec<Live>, Option<Instant>) {
        let mut due = Vec::new();
        self.driver_wakes_at = loop {
            let Some(Reverse(first)) = self.heap.peek() else {
                break None;
            };
            if first.at > now {
                break Some(first.at);
            }
            let (slot, id) = (first.slot, first.id);
            self.heap.pop();
            due.extend(self.take(slot, id));
        };
        (due, self.driver_wakes_at)
    }
}

/// Whether `slot` still holds deadline `id` (a heap entry or a timer for
/// which it does not is stale).
fn holds(slots: &[Option<Live>], slot: u32, id: u64) -> bool {
    slots
        .get(slot as usize)
        .and_then(Option::as_ref)
        .is_some_and(|live| live.id == id)
}

/// The source of threads' shard slots.
static NEXT_SHARD_INDEX: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard slot, in every runtime.
    static SHARD_INDEX: usize = NEXT_SHARD_INDEX.fetch_add(1, Ordering::Relaxed) % SHARDS;
    /// This thread's shard of the runtime it last armed a deadline on: the
    /// common case skips the process-wide registry.
    static LAST_SHARD: RefCell<Option<(runtime::Id, Arc<Shard>)>> = const { RefCell::new(None) };
}

/// Every live shard of every runtime, by runtime and slot, for threads
/// whose cache misses.
static SHARDS_BY_RUNTIME: Mutex<Vec<(runtime::Id, usize, Weak<Shard>)>> = Mutex::new(Vec::new());

/// Cancels `node` with [`Error::DeadlineExceeded`] and `cause` at
/// `deadline`, `remaining` from now, or at once if nothing remains.
pub(crate) fn arm(
    node: &Arc<CancelNode>,
    deadline: Instant,
    remaining: Duration,
    cause: Option<Cause>,
) {
    if node.err().is_some() {
        // Born done, under a done parent: nothing left to time.
        return;
    }
    if remaining.is_zero() {
        node.cancel(Error::DeadlineExceeded, cause);
        return;
    }
    if remaining > HORIZON {
        return;
    }
    let Ok(runtime) = Handle::try_current() else {
        panic!(
            "ctx: a context with a deadline needs a Tokio runtime for its timer, and none is \
             running on this thread; derive deadline contexts inside the runtime \
             (#[tokio::main], Runtime::block_on) or after `Handle::enter()`"
        );
    };
    let shard = shard_of(&runtime);
    let (slot, id, notify) = {
        let mut armed = shard.lock();
        if armed.closed {
            drop(armed);
            node.cancel(Error::Canceled, Some(into_cause(RUNTIME_GONE)));
            return;
        }
        armed.arm(deadline, Arc::downgrade(node), cause)
    };
    if notify {
        shard.earlier.notify_one();
    }
    node.set_timer(Timer { shard, slot, id });
}

/// How many deadlines are armed on the current runtime (0 outside one).
/// For tests of the no-leak guarantee.
pub(crate) fn armed_on_current_runtime() -> usize {
    let Ok(runtime) = Handle::try_current() else {
        return 0;
    };
    let id = runtime.id();
    let shards: Vec<Arc<Shard>> = SHARDS_BY_RUNTIME
        .lock()
        .iter()
        .filter(|(runtime, _, _)| *runtime == id)
        .filter_map(|(_, _, shard)| shard.upgrade())
        .collect();
    shards.iter().map(|shard| shard.lock().live).sum()
}

/// This thread's shard of `runtime`.
fn shard_of(runtime: &Handle) -> Arc<Shard> {
    let id = runtime.id();
    LAST_SHARD
        .try_with(|last| {
            if let Some((cached, shard)) = &*last.borrow() {
                if *cached == id {
                    return shard.clone();
                }
            }
            let shard = shared_shard_of(runtime, id);
            *last.borrow_mut() = Some((id, shard.clone()));
            shard
        })
        // A deadline made by a thread-local's destructor, after this cache
        // was destroyed: found the slow way.
        .unwrap_or_else(|_| shared_shard_of(runtime, id))
}

/// This thread's shard of runtime `id`, from the process-wide registry.
fn shared_shard_of(runtime: &Handle, id: runtime::Id) -> Arc<Shard> {
    let index = SHARD_INDEX.with(|index| *index);
    let mut shards = SHARDS_BY_RUNTIME.lock();
    shards.retain(|(_, _, shard)| shard.strong_count() > 0);
    if let Some(shard) = shards
        .iter()
        .find(|(known, slot, _)| *known == id && *slot == index)
        .and_then(|(_, _, shard)| shard.upgrade())
    {
        return shard;
    }
    // A sleep made here rather than in the driver, so a runtime built
    // without `enable_time` panics in the caller with tokio's own
    // explanation.
    drop(sleep_until(Instant::now()));
    let shard = Arc::new(Shard::default());
    shards.push((id, index, Arc::downgrade(&shard)));
    // A runtime already shut down drops the driver unpolled: its guard
    // closes the shard all the same.
    runtime.spawn(drive(CloseOnDrop(shard.clone())));
    shard
}

/// The driver's hold on its shard. Dropped with the driver, when the
/// runtime shuts down: closes the shard and cancels what it still held.
struct CloseOnDrop(Arc<Shard>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        let orphaned = {
            let mut armed = self.0.lock();
            let orphaned = std::mem::take(&mut *armed);
            armed.closed = true;
            orphaned.slots
        };
        // Cancelled unlocked: a node's cancel disarms its timer, which
        // takes the shard's lock.
        for live in orphaned.into_iter().flatten() {
            if let Some(node) = live.node.upgrade() {
                node.cancel(Error::Canceled, Some(into_cause(RUNTIME_GONE)));
            }
        }
    }
}

/// A shard's driver: lives as long as the runtime, cancelling each
/// deadline as it passes.
async fn drive(shard: CloseOnDrop) {
    let shard = &shard.0;
    loop {
        // Registered before the shard is read, so an earlier deadline armed
        // after this read still wakes the sleep below.
        let mut earlier = pin!(shard.earlier.notified());
        earlier.as_mut().enable();
        let (due, next) = shard.lock().take_due(Instant::now());
        for live in due {
            if let Some(node) = live.node.upgrade() {
                node.cancel(Error::DeadlineExceeded, live.cause);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn arm_in(armed: &mut Armed, at: Instant) -> (u32, u64, bool) {
        armed.arm(at, Weak::new(), None)
    }

    /// Deadlines armed in the order they fall (a fixed timeout per
    /// request) notify the driver once, not once each.
    #[test]
    fn deadlines_armed_in_order_notify_the_driver_once() {
        let mut armed = Armed::default();
        let start = Instant::now();
        let notified: Vec<bool> = (0..100)
            .map(|i| arm_in(&mut armed, start + Duration::from_secs(i + 1)).2)
            .collect();
        assert!(notified[0]);
        assert!(notified[1..].iter().all(|notified| !notified));
        // An earlier one does.
        assert!(arm_in(&mut armed, start).2);
    }

    /// Disarmed deadlines leave stale heap entries behind; they never come
    /// due, and never outnumber the live ones by more than the constant.
    #[test]
    fn disarmed_deadlines_never_fire_and_stay_bounded() {
        let mut armed = Armed::default();
        let start = Instant::now();
        let mut kept = Vec::new();
        for i in 0..10_000_u64 {
            let (slot, id, _) = arm_in(&mut armed, start + Duration::from_millis(10_000 - i));
            if i % 100 == 0 {
                kept.push((i, slot, id));
            } else {
                assert!(armed.disarm(slot, id).is_some());
            }
            assert!(armed.heap.len() <= 2 * armed.live + COMPACT_AT);
        }
        assert_eq!(armed.live, kept.len());
        // A deadline is disarmed once: the second time finds nothing.
        let (_, slot, id) = kept[0];
        let first = armed.disarm(slot, id);
        assert!(first.is_some());
        assert!(armed.disarm(slot, id).is_none());
        let kept = &kept[1..];

        let (due, next) = armed.take_due(start + Duration::from_secs(20));
        assert_eq!(due.len(), kept.len());
        // Earliest first: the last armed falls first.
        let mut expected: Vec<u64> = kept.iter().map(|(_, _, id)| *id).collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        assert_eq!(due.iter().map(|live| live.id).collect::<Vec<_>>(), expected);
        assert_eq!(next, None);
        assert_eq!(armed.live, 0);
    }

    /// A slot the driver took when it came due, then reused, is not
    /// disarmed by the first deadline's timer.
    #[test]
    fn a_reused_slot_is_not_disarmed_by_its_previous_deadline() {
        let mut armed = Armed::default();
        let start = Instant::now();
        let (slot, id, _) = arm_in(&mut armed, start);
        let (due, _) = armed.take_due(start);
        assert_eq!(due.len(), 1);
        let (reused, newer, _) = arm_in(&mut armed, start + Duration::from_secs(1));
        assert_eq!(reused, slot);
        assert!(armed.disarm(slot, id).is_none());
        assert_eq!(armed.live, 1);
        assert!(armed.disarm(reused, newer).is_some());
    }
}
