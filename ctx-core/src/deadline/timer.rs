//! The mechanism that fires deadlines, on tokio's timer: [`arm`] a node's
//! deadline, and its node is expired when it passes. Which deadlines are
//! armed is decided by the module above.
//!
//! A task per deadline would cost more than the rest of a context: a
//! cache-aligned task allocation, then two cross-thread wake-ups to start
//! and to abort it, for a deadline that is usually cancelled long before it
//! passes. Instead each runtime keeps its armed deadlines in [`Shard`]s, one
//! per slot of threads (like Go's timer heap per P): a thread arms in its
//! own shard, so two threads making deadline contexts at once share no
//! lock (only the reference count of the runtime's handle, which
//! `Handle::try_current` clones: tokio has no other way to tell which
//! runtime is current). Each shard has a driver task that sleeps on
//! tokio's timer until the shard's earliest deadline (so
//! `tokio::time::pause()` drives it like any sleep), cancels what is due,
//! and sleeps again.
//!
//! A shard is a binary heap of `(instant, arming order)` entries, each
//! holding its context's node weakly. Nothing disarms an entry: a context
//! cancelled or dropped before its deadline leaves its entry behind, as Go
//! leaves a stopped timer in its heap for later removal, and the entry
//! does nothing when it comes due (its node is gone, or already done). So a
//! deadline costs its context nothing after it is armed: no lock taken and
//! no reference to the shard kept, however the context ends. Arming pushes
//! onto the heap, which for deadlines armed in the order they fall (a fixed
//! timeout per request) stops at once. The entries of dropped contexts go
//! three ways: those at the top of the heap (with deadlines armed in
//! order, the oldest contexts', usually gone first) at the next arming;
//! the others by the arming that finds the heap grown to twice what was
//! left at the last sweep or pruning (so a shard holds at most twice the
//! entries of its contexts still alive, plus a small constant, for as long
//! as deadlines are armed on it); and any left by the driver when they
//! come due. Until then each keeps its node's allocation (not the node's
//! contents: its parent, values and the deadline's cause go with the
//! context).
//!
//! A shard's lock is never held while a node's is, nor the reverse (the
//! tree's invariant 4): the driver takes what is due out of its shard
//! before cancelling it.
//!
//! When a runtime shuts down, its drivers are dropped and their deadlines
//! could never fire: a context timed by one would stay live forever, and a
//! `done()` awaited elsewhere would hang. So a driver's drop closes its
//! shard and cancels every deadline it still held, with [`Error::Canceled`]
//! and a cause that says why ([`RuntimeGone`]); a deadline armed on a
//! closed shard (through the handle of a runtime that already shut down) is
//! cancelled the same way at once.
//!
//! These locks are parking_lot's even under loom: deadlines need tokio's
//! timer and are exercised by the paused-clock tests and the multi-threaded
//! stress tests, not the loom models.

use std::cell::RefCell;
use std::cmp::{Ordering as Order, Reverse};
use std::collections::binary_heap::{BinaryHeap, PeekMut};
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use tokio::runtime::{self, Handle};
use tokio::sync::Notify;
use tokio::time::{sleep_until, Instant};

use crate::error::{Cause, Error, RuntimeGone};
use crate::node::CancelNode;
use crate::sync::{Arc, Weak};

/// How many shards a runtime's deadlines may spread over. Threads take
/// shard slots in turn, so up to this many threads never share one; a
/// shard (and its driver task) exists only once a thread arms a deadline
/// in it, so an unused slot costs nothing.
const SHARDS: usize = 32;

/// The longest a driver sleeps at once. tokio's timer cannot sleep until
/// any instant (it rounds a wake-up up to the next millisecond, which
/// overflows at the last instants there are), so a driver whose earliest
/// deadline is further away than this wakes after this long, finds
/// nothing due, and sleeps again.
const LONGEST_SLEEP: Duration = Duration::from_secs(60 * 60 * 24 * 365);

/// A shard's heap is swept no sooner than at this many entries.
const SWEEP_AT_LEAST: usize = 64;

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
    /// One entry per deadline armed here and not yet due, pruned or swept
    /// out, earliest first.
    heap: BinaryHeap<Reverse<Due>>,
    /// The arming order of the next deadline.
    next_seq: u64,
    /// The heap length at which the next arming sweeps out the entries of
    /// dropped contexts: twice what the last sweep kept or pruning left.
    sweep_at: usize,
    /// When the driver wakes next on its own (`None`: only when notified).
    /// A deadline earlier than this notifies it; any other does not, so a
    /// stream of deadlines armed in order wakes no other thread.
    driver_wakes_at: Option<Instant>,
    /// Set when the driver is gone (its runtime shut down): nothing here
    /// would ever fire.
    closed: bool,
}

/// A deadline: ordered by instant, then by arming order.
struct Due {
    at: Instant,
    seq: u64,
    node: Weak<CancelNode>,
}

impl Due {
    /// Whether the context is gone: this entry can never cancel anything.
    fn is_dead(&self) -> bool {
        self.node.strong_count() == 0
    }

    /// Cancels the context, if it is still there, as its deadline passing
    /// does.
    fn fire(self) {
        if let Some(node) = self.node.upgrade() {
            node.expire();
        }
    }
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Order::Equal
    }
}

impl Eq for Due {}

impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<Order> {
        Some(self.cmp(other))
    }
}

impl Ord for Due {
    fn cmp(&self, other: &Self) -> Order {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

impl Shard {
    fn lock(&self) -> MutexGuard<'_, Armed> {
        self.armed.lock()
    }
}

impl Armed {
    /// Adds a deadline; returns whether the driver must be notified to
    /// wake earlier.
    fn arm(&mut self, at: Instant, node: Weak<CancelNode>) -> bool {
        self.prune();
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse(Due { at, seq, node }));
        if self.heap.len() >= self.sweep_at.max(SWEEP_AT_LEAST) {
            self.sweep();
        }
        let notify = self.driver_wakes_at.is_none_or(|wakes_at| at < wakes_at);
        if notify {
            self.driver_wakes_at = Some(at);
        }
        notify
    }

    /// Takes out the entries of dropped contexts at the top of the heap.
    /// With deadlines armed in the order they fall
    /// (a fixed timeout per request), the earliest entries are the oldest
    /// contexts', usually gone by the next arming: each is freed then, a
    /// few at a time, while its memory is still warm, rather than with a
    /// sweep's batch.
    fn prune(&mut self) {
        let before = self.heap.len();
        while let Some(first) = self.heap.peek_mut() {
            if !first.0.is_dead() {
                break;
            }
            PeekMut::pop(first);
        }
        if self.heap.len() < before {
            // Counted from what is left, as a sweep counts from what it
            // kept.
            self.sweep_at = self.sweep_at.min(2 * self.heap.len());
            self.give_back();
        }
    }

    /// Takes out the entries of dropped contexts, and gives back the
    /// memory of a burst.
    fn sweep(&mut self) {
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.retain(|Reverse(due)| !due.is_dead());
        self.sweep_at = 2 * entries.len();
        self.heap = BinaryHeap::from(entries);
        self.give_back();
    }

    /// Gives back the memory of a burst: the heap keeps room for twice
    /// what it holds (and a small constant), no more.
    fn give_back(&mut self) {
        let room = (2 * self.heap.len()).max(SWEEP_AT_LEAST);
        if self.heap.capacity() > 2 * room {
            self.heap.shrink_to(room);
        }
    }

    /// Takes out the deadlines due at `now`; returns them and the instant
    /// the driver sleeps until (the next heap entry's), which arming
    /// compares with from now on.
    fn take_due(&mut self, now: Instant) -> (Vec<Due>, Option<Instant>) {
        let mut due = Vec::new();
        self.driver_wakes_at = loop {
            let Some(first) = self.heap.peek_mut() else {
                break None;
            };
            if first.0.at > now {
                break Some(first.0.at);
            }
            due.push(PeekMut::pop(first).0);
        };
        (due, self.driver_wakes_at)
    }
}

/// The source of threads' shard slots.
static NEXT_SHARD_INDEX: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard slot, in every runtime.
    static SHARD_INDEX: usize = NEXT_SHARD_INDEX.fetch_add(1, Ordering::Relaxed) % SHARDS;
    /// This thread's shard of the runtime it last armed a deadline on.
    static LAST_SHARD: RefCell<Option<(runtime::Id, Arc<Shard>)>> = const { RefCell::new(None) };
}

/// Every live shard of every runtime, by runtime and slot, for threads
/// whose cache misses.
static SHARDS_BY_RUNTIME: Mutex<Vec<(runtime::Id, usize, Weak<Shard>)>> = Mutex::new(Vec::new());

/// Expires `node` ([`CancelNode::expire`]) once `deadline` passes, on the
/// timer of the current Tokio runtime; cancels it with [`RuntimeGone`] if
/// that runtime shut down already, or does before `deadline` passes.
///
/// # Panics
///
/// Outside a Tokio runtime, or in one built without `enable_time`, saying
/// so.
pub(crate) fn arm(node: &Arc<CancelNode>, deadline: Instant) {
    let Ok(runtime) = Handle::try_current() else {
        panic!(
            "ctx: a context with a deadline needs a Tokio runtime for its timer, and none is \
             running on this thread; derive deadline contexts inside the runtime \
             (#[tokio::main], Runtime::block_on) or after `Handle::enter()`"
        );
    };
    let id = runtime.id();
    let arm_on = |shard: &Shard| {
        let mut armed = shard.lock();
        if armed.closed {
            return false;
        }
        let notify = armed.arm(deadline, Arc::downgrade(node));
        drop(armed);
        if notify {
            shard.earlier.notify_one();
        }
        true
    };
    let armed = LAST_SHARD
        .try_with(|last| {
            // This thread's shard of the runtime it last armed on: the
            // common case skips the process-wide registry.
            let mut last = last.borrow_mut();
            let (_, shard) = match &mut *last {
                Some(cached) if cached.0 == id => cached,
                last => last.insert((id, shared_shard_of(&runtime, id))),
            };
            arm_on(shard)
        })
        // A deadline made by a thread-local's destructor, after this cache
        // was destroyed: found the slow way.
        .unwrap_or_else(|_| arm_on(&shared_shard_of(&runtime, id)));
    if !armed {
        orphan(node);
    }
}

/// Cancels `node`, whose deadline no timer will fire: its runtime is gone.
fn orphan(node: &CancelNode) {
    let cause: Cause = std::sync::Arc::new(RuntimeGone);
    node.cancel(Error::Canceled, Some(cause));
}

/// How many deadlines are armed on the current runtime (0 outside one).
/// For tests of the no-leak guarantee.
#[cfg(feature = "test-util")]
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
    // Upgraded under each shard's lock, checked after it: a node's lock is
    // never taken under a shard's.
    let nodes: Vec<Arc<CancelNode>> = shards
        .iter()
        .flat_map(|shard| {
            let armed = shard.lock();
            armed
                .heap
                .iter()
                .filter_map(|Reverse(due)| due.node.upgrade())
                .collect::<Vec<_>>()
        })
        .collect();
    nodes.iter().filter(|node| node.err().is_none()).count()
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
            let orphaned = std::mem::take(&mut armed.heap);
            armed.closed = true;
            orphaned
        };
        // Cancelled unlocked (invariant 4 of the tree).
        for Reverse(due) in orphaned {
            if let Some(node) = due.node.upgrade() {
                orphan(&node);
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
        let now = Instant::now();
        let (due, next) = shard.lock().take_due(now);
        due.into_iter().for_each(Due::fire);
        match next {
            Some(next) => {
                let wake_at = now
                    .checked_add(LONGEST_SLEEP)
                    .map_or(next, |longest| next.min(longest));
                let mut sleep = pin!(sleep_until(wake_at));
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
    use crate::error::into_cause;
    use crate::Context;

    fn arm_in(armed: &mut Armed, at: Instant, node: &Arc<CancelNode>) -> bool {
        armed.arm(at, Arc::downgrade(node))
    }

    fn node() -> Arc<CancelNode> {
        CancelNode::new(&Context::background(), None, None)
    }

    /// Deadlines armed in the order they fall (a fixed timeout per
    /// request) notify the driver once, not once each.
    #[test]
    fn deadlines_armed_in_order_notify_the_driver_once() {
        let mut armed = Armed::default();
        let start = Instant::now();
        let node = node();
        let notified: Vec<bool> = (0..100)
            .map(|i| arm_in(&mut armed, start + Duration::from_secs(i + 1), &node))
            .collect();
        assert!(notified[0]);
        assert!(notified[1..].iter().all(|notified| !notified));
        // An earlier one does.
        assert!(arm_in(&mut armed, start, &node));
    }

    /// The entries of dropped contexts behind a live one (which pruning
    /// the top never reaches) are swept out as deadlines are armed: the
    /// heap never holds more than twice the live ones plus the constant,
    /// and what comes due is the live ones, earliest first. Deadlines
    /// armed in either order.
    #[test]
    fn entries_of_dropped_contexts_are_swept_out() {
        for later_first in [false, true] {
            let mut armed = Armed::default();
            let start = Instant::now();
            // The earliest of all, alive throughout.
            let first = node();
            arm_in(&mut armed, start, &first);
            let mut kept = Vec::new();
            for i in 0..10_000_u64 {
                let node = node();
                let offset = if later_first { 10_000 - i } else { i + 1 };
                arm_in(&mut armed, start + Duration::from_millis(offset), &node);
                if i % 100 == 0 {
                    kept.push(node);
                }
                assert!(armed.heap.len() <= 2 * (kept.len() + 1) + SWEEP_AT_LEAST);
            }
            let (due, next) = armed.take_due(start + Duration::from_secs(20));
            assert_eq!(next, None);
            let live: Vec<Arc<CancelNode>> =
                due.iter().filter_map(|due| due.node.upgrade()).collect();
            if later_first {
                kept.reverse();
            }
            kept.insert(0, first);
            assert_eq!(live.len(), kept.len());
            assert!(live
                .iter()
                .zip(&kept)
                .all(|(due, kept)| Arc::ptr_eq(due, kept)));
        }
    }

    /// Requests with a fixed timeout, each context dropped before the next
    /// is made: the heap holds the live one only, every earlier entry freed
    /// by the arming after it.
    #[test]
    fn entries_of_contexts_dropped_in_order_go_at_the_next_arming() {
        let mut armed = Armed::default();
        let start = Instant::now();
        for i in 0..1_000 {
            let node = node();
            arm_in(&mut armed, start + Duration::from_millis(i), &node);
            assert_eq!(armed.heap.len(), 1);
        }
        // One still alive stays, and so does everything after it.
        let kept = node();
        arm_in(&mut armed, start + Duration::from_secs(1), &kept);
        arm_in(&mut armed, start + Duration::from_secs(2), &node());
        arm_in(&mut armed, start + Duration::from_secs(3), &node());
        assert_eq!(armed.heap.len(), 3);
    }

    /// A burst's memory is given back by the arming that follows it, within
    /// as many deadlines as the burst had.
    #[test]
    fn a_burst_is_given_back_by_later_arming() {
        let mut armed = Armed::default();
        let start = Instant::now();
        let burst: Vec<_> = (0..100_000).map(|_| node()).collect();
        for node in &burst {
            arm_in(&mut armed, start + Duration::from_secs(1), node);
        }
        let peak = armed.heap.capacity();
        drop(burst);
        // Requests that come after it, each with its own short-lived
        // context.
        let mut arms = 0;
        while armed.heap.len() > SWEEP_AT_LEAST {
            arm_in(&mut armed, start + Duration::from_secs(1), &node());
            arms += 1;
            assert!(arms <= 100_000, "never swept");
        }
        assert!(
            armed.heap.capacity() < peak / 10,
            "{} of {peak}",
            armed.heap.capacity()
        );
    }

    /// An entry whose context is gone fires nothing; one whose context is
    /// alive cancels it with the deadline's cause.
    #[test]
    fn a_due_entry_cancels_only_a_context_still_there() {
        let mut armed = Armed::default();
        let start = Instant::now();
        let alive = CancelNode::new(
            &Context::background(),
            Some(start),
            Some(into_cause("budget spent")),
        );
        arm_in(&mut armed, start, &alive);
        // Armed after a live one: not pruned, still there when due.
        let gone = node();
        arm_in(&mut armed, start, &gone);
        drop(gone);
        let (due, _) = armed.take_due(start);
        assert_eq!(due.len(), 2);
        due.into_iter().for_each(Due::fire);
        assert_eq!(alive.err(), Some(Error::DeadlineExceeded));
        assert_eq!(alive.cause().unwrap().to_string(), "budget spent");
    }
}
