//! The cancellation tree.
//!
//! Every cancelable context (`with_cancel`, `with_deadline`, ...) is a
//! [`CancelNode`]. Value and without-cancel contexts are not nodes of this
//! tree: they point at the nearest cancelable ancestor, their *scope*, and
//! observe it.
//!
//! A node keeps, under one mutex, a [`Registry`] of everything that must
//! hear about its cancellation: child nodes (weakly, so a child's lifetime
//! is its own), wakers of pending `done()`/`run()` futures, after-funcs,
//! and merged contexts for which it is the second parent (`merge.rs`). A
//! child joins its parent's registry only when it needs to (invariant 9):
//! most children are made, checked and canceled without touching their
//! parent.
//!
//! A node's state (live, or why it is done) is an atomic read without the
//! mutex, which is what keeps `err()` and `is_done()` free of locks, and
//! written under it, except for ending a node with nothing registered,
//! which is one compare-and-swap (invariant 1).
//!
//! # Invariants
//!
//! 1. A node's state goes from live to done once and never back. The change
//!    happens under the node's lock, in the same critical section that
//!    empties its registry. So, under the lock, "live" means "every
//!    registration made so far is still in the registry, and will be
//!    handed to the canceller". The one exception is a node not
//!    *engaged*: whatever needs it to stay live while it holds the lock
//!    (registering with it, joining its parent) first sets its
//!    [`ENGAGED`] bit, by a read-modify-write of the state under the
//!    lock; a node without the bit has nothing to take, and a
//!    cancellation without a cause ends it by a compare-and-swap from
//!    exactly live, without the lock. The two operations on one atomic are
//!    ordered: one of them sees the other, so a registration either
//!    engages the node first (and its cancellation takes the lock) or
//!    finds it done. The critical section that empties a node's registry
//!    clears the bit as its last step, by a read-modify-write too: with
//!    nothing to take, the node may end without its lock again, and a
//!    cancellation that does sees everything written under the lock
//!    before (its slot in its parent, above all, which it must leave).
//! 2. Registration happens under the lock and only on a live node; a done
//!    node refuses it and the caller acts on the done state instead (a child
//!    is born done with its parent's error and cause, an after-func is
//!    started at once, a waiter completes). So nothing registered is ever
//!    missed.
//! 3. A registration's slot is freed by exactly one of: its owner, under the
//!    lock and only while the node is live (stop, drop, cancel of a child; a
//!    waiter's registration is owned by its future or, once that is dropped,
//!    by the thread it parked with: `parked.rs`);
//!    or cancellation, which takes all slots at once. Because of 1, the two
//!    cannot both happen, so slots need no generation counters.
//! 4. No lock is held while user code runs: the canceller copies the
//!    registry out, releases the lock, then descends into children; a
//!    removed entry is dropped only after the lock is released (an
//!    after-func's captures may own contexts, whose drop takes locks). One
//!    lock is ever taken under another: a child joining its parent's
//!    registry holds the parent's lock, then its own (invariant 9). Every
//!    such pair is a parent and its child, taken in that order, so the
//!    tree cannot deadlock.
//! 5. A child's entry in its parent's registry is removed when the child is
//!    canceled (by its handle or its timer) or dropped, so a parent that
//!    outlives millions of short-lived children keeps none of them
//!    (Go's lostcancel leak cannot happen). The entry is removed after the
//!    child's own walk, as Go removes a child after cancelling its
//!    children: a parent's cancel that comes meanwhile finds the child and
//!    waits for its subtree (invariant 6).
//! 6. When a `cancel` returns, the whole subtree is done, as in Go (whose
//!    `cancel` holds the node's mutex while it cancels the children); its
//!    after-funcs are started, not necessarily finished (7). A node gets its
//!    `PROPAGATED` bit once every descendant is done, and a `cancel` that
//!    finds its node already made done by another thread waits for that
//!    bit. The waits always end: the propagating thread runs no user code
//!    (wakes, the start of after-funcs and the drop of the last reference to
//!    a node are deferred until every bit of its walk is set) and only ever
//!    waits for nodes below the one it waits on.
//! 7. After-funcs never run on the canceller's stack (Go runs each in a
//!    goroutine of its own): the canceller hands them to another thread
//!    (see `after_func.rs`) and returns, so `cancel()` never waits for one,
//!    and a slow one delays no other cancellation, not even the deadlines
//!    of its runtime. A panicking one is contained on its own thread. (Under
//!    loom they run inline, after every lock is released, as 4 requires.)
//! 8. A merged context (`Context::merge`) is a child of its first parent
//!    like any other, and is registered with its second parent's scope by
//!    a `Merged` entry, whose slot it records in its own registry as a
//!    `MergedInto` entry; if it is done before it can record it (invariant
//!    2), its maker removes the entry at once. So whatever ends a merged
//!    context removes its entry from the second parent (invariant 5 holds
//!    for merges), and a `Merged` slot, like any other, is freed once
//!    (invariant 3). A walk never descends through a `Merged` entry: the
//!    canceller cancels that merged context after the walk, as the root of
//!    a walk of its own, so every wait of invariant 6 still follows child
//!    links down a tree (two walks descending into each other's merges
//!    could each wait for a node the other made done, forever). The price
//!    is the after-func's: a `cancel` that finds the second parent already
//!    made done by another thread returns once that parent's tree is done,
//!    maybe before the merged context is; the first canceller's returns
//!    after it.
//! 9. A child is *attached* (registered with its parent scope) only once
//!    something registers with it: a waiter, an after-func, a merge, or an
//!    attached child of its own (a deadline is not one: its timer holds the
//!    node weakly, and when it fires, the node's `cancel` looks at the
//!    ancestors first, like a check). Attaching goes top-down, each
//!    unattached ancestor first, so an attached node's parent is attached
//!    too, and a node with registrations is attached, done, or a root
//!    (whose slot is [`ROOT`]). An attached node hears of its ancestors'
//!    cancellation by the walk, as before; an unattached one has nothing
//!    to hear it with, so it looks: a check (`err`) of a
//!    live unattached node reads its unattached ancestors' states, and if
//!    one is done, makes the nodes below it done top-down, each with its
//!    parent's error and cause under its own lock, exactly as the walk
//!    would have; the node's own `cancel` looks first too. So a node's
//!    error and cause are decided once, under its lock, and are the ones a
//!    walk would have given it: whoever saw it done saw what sticks. A
//!    check that walks [`WALK_LIMIT`] unattached ancestors attaches the
//!    last of them, so checks on a chain of any depth stay short. A child
//!    joins its parent under both locks, parent first, and only while both
//!    are live: a cancel of the child either comes first (and the child
//!    does not join) or finds the slot when it releases its lock (and
//!    leaves), so no entry outlives its child's cancellation (invariant 5).
//!
//! 10. A node is cancelled only by an explicit `cancel` (its handle's, or
//!     its drop guard's), its deadline, or an ancestor's cancellation:
//!     dropping a handle, or any owner, never ends a context that someone
//!     still holds. When its last owner goes (context clones and handle
//!     alike), the node is released; if something is still registered with
//!     it then (an after-func whose handle is gone, a parked waker, a
//!     merge's record of its second parent), nobody can see it end, and it
//!     is cancelled on the way out so those registrations are not lost:
//!     after-funcs run and the second parent's entry goes (invariants 5, 8).
//!
//! Cancellation descends iteratively, with an explicit stack, so a deep
//! chain cannot overflow the canceller's stack.

use std::fmt;
use std::mem;
use std::task::Waker;

use smallvec::SmallVec;

use tokio::time::Instant;

use crate::after_func::{self, AfterFunc};
use crate::clock;
use crate::deadline::PackedDeadline;
use crate::error::{Cause, Error};
use crate::sync::{exclusive, lock, yield_now, Arc, AtomicU32, AtomicU8, Mutex, Ordering, Weak};
use crate::Context;

const LIVE: u8 = 0;
const CANCELED: u8 = 1;
const DEADLINE_EXCEEDED: u8 = 2;
/// Set on a done node once every descendant is done too.
const PROPAGATED: u8 = 4;
/// Set on a live node, under its lock, before anything is registered with
/// it or it joins its parent: from then on only a cancellation under its
/// lock may end it (invariant 1), until its registry is emptied, which
/// clears it. A node without it has nothing for a cancellation to take,
/// which may then end it by one compare-and-swap, without the lock.
const ENGAGED: u8 = 8;
/// Set on a done node, in the same write that makes it done, when its
/// cancellation has an explicit cause (in [`Shared`]): a done node without
/// it has none, which is read without the lock.
const HAS_CAUSE: u8 = 16;
/// The bits that say why a node is done.
const ERR: u8 = CANCELED | DEADLINE_EXCEEDED;

/// Marks "no slot": a node not registered with a parent, or whose
/// registration was already removed.
pub(crate) const NO_SLOT: u32 = u32::MAX;
/// Marks a node with no parent scope (a child of Background, Todo or a
/// without-cancel context): nothing to attach to, so its state is its own.
const ROOT: u32 = u32::MAX - 1;

/// In a node's `flags`: it has a deadline of its own (packed in the node,
/// or in [`Shared`]). Set at birth.
const HAS_DEADLINE: u8 = 1;
/// In a node's `flags`: its [`Shared`] holds a registration, what its
/// cancellation must take. Written under the node's lock whenever its
/// registry changes, and read under it by `finish`, which so leaves the
/// box of a node that holds none (a child waited on once, whose registry
/// is all vacant slots) untouched.
const HOLDS: u8 = 2;
/// In a node's `flags`: a deadline applies to it, its own or an
/// ancestor's. Set at birth; what tells a check whether reading the clock
/// can matter (`clock.rs`).
const DEADLINE_APPLIES: u8 = 4;

/// How many unattached ancestors a check walks before it attaches the
/// last of them (invariant 9): checks on a deep chain stay short, and a
/// request's few contexts never attach for a check.
const WALK_LIMIT: usize = 8;

/// A cancelable context.
///
/// Kept to 48 bytes (64 with the `Arc` header): what every node needs is
/// inline, and so is a deadline (most deadline contexts are a request's,
/// and would otherwise allocate twice); what only some need (children,
/// waiters, a cause) is in [`Shared`], allocated on first use.
pub(crate) struct CancelNode {
    /// The context this one was derived from: the `Display` chain, the
    /// inherited deadline, the values in effect, and what keeps the
    /// ancestors alive.
    pub(crate) parent: Context<'static>,
    state: AtomicU8,
    /// [`HAS_DEADLINE`], [`DEADLINE_APPLIES`] and [`HOLDS`].
    flags: AtomicU8,
    /// This node's own deadline, unless it does not pack (then it is in
    /// [`Shared`]).
    deadline: PackedDeadline,
    /// This node's index in its parent scope's registry, [`NO_SLOT`] while
    /// it is not attached (invariant 9), or [`ROOT`]. Written under the
    /// parent scope's lock (and this node's, when it joins). Read without
    /// a lock by checks (a live node with a slot is in its parent's
    /// registry: the walk will reach it) and as a hint that a decision
    /// under the lock confirms.
    slot: AtomicU32,
    shared: Mutex<Option<Box<Shared>>>,
}

#[derive(Default)]
struct Shared {
    registry: Registry,
    /// The cause of the cancellation; `None` while live, or when canceled
    /// without an explicit cause.
    cause: Option<Cause>,
    /// This node's own deadline, if it does not pack into the node.
    deadline: Option<Instant>,
    /// The cause its own deadline's passing gives, if it was given one.
    deadline_cause: Option<Cause>,
}

/// What must hear about a node's cancellation.
pub(crate) enum Entry {
    Child(Weak<CancelNode>),
    Waiter(Waker),
    AfterFunc(AfterFunc),
    /// A merged context whose second parent this node is: canceled after
    /// the walk, as a walk's root (invariant 8).
    Merged(Weak<CancelNode>),
    /// In a merged context's own registry: its second parent and the slot
    /// of its `Merged` entry there, removed when the merged context is done.
    MergedInto(Arc<CancelNode>, u32),
    /// A free slot, linking to the next free one.
    Vacant(u32),
}

/// How many slots an empty registry keeps rather than freeing.
const KEPT_CAPACITY: usize = 16;

/// A node's registrations. The first is kept inline: most nodes have one at
/// most (a chain of contexts, a request's tree), and so need no allocation
/// for it beyond their boxed rare state.
type Entries = SmallVec<[Entry; 1]>;

/// A slab of [`Entry`]s: O(1) insert and remove by slot.
struct Registry {
    entries: Entries,
    next_vacant: u32,
    occupied: usize,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            entries: Entries::new(),
            next_vacant: NO_SLOT,
            occupied: 0,
        }
    }
}

impl Registry {
    fn insert(&mut self, entry: Entry) -> u32 {
        self.occupied += 1;
        if self.next_vacant != NO_SLOT {
            let slot = self.next_vacant;
            match mem::replace(&mut self.entries[slot as usize], entry) {
                Entry::Vacant(next) => self.next_vacant = next,
                _ => unreachable!("the vacant list only links vacant slots"),
            }
            return slot;
        }
        let slot = u32::try_from(self.entries.len())
            .ok()
            .filter(|&slot| slot < ROOT)
            .expect("more than 4 billion registrations on one context");
        self.entries.push(entry);
        slot
    }

    fn remove(&mut self, slot: u32) -> Entry {
        let entry = mem::replace(
            &mut self.entries[slot as usize],
            Entry::Vacant(self.next_vacant),
        );
        self.next_vacant = slot;
        self.occupied -= 1;
        if self.occupied == 0 && self.entries.capacity() > KEPT_CAPACITY {
            // A long-lived parent must not keep the high-water mark of its
            // children forever. A small slab is kept as it is, every slot
            // vacant, so child churn neither allocates nor clears it.
            *self = Registry::default();
        }
        entry
    }

    /// Takes every registration, leaving the registry empty: `None`, and
    /// the registry as it is, when only vacant slots are left (a child
    /// waited on once keeps its vacant slot until it is dropped).
    fn take(&mut self) -> Option<Entries> {
        (self.occupied != 0).then(|| mem::take(self).entries)
    }
}

/// What [`CancelNode::finish`] found.
enum Finish {
    /// The node was live and held no registration: it is done, and so is
    /// its subtree (it has no attached child).
    Leaf,
    /// The node was live: it is done, and these must hear of it.
    Notify(Entries),
    /// Another cancellation made the node done first.
    AlreadyDone,
}

/// A registration refused because the node is already done, and why.
pub(crate) struct Refused {
    pub(crate) entry: Entry,
    pub(crate) err: Error,
    pub(crate) cause: Option<Cause>,
}

impl CancelNode {
    /// Creates a node derived from `parent`, with its own `deadline` if
    /// any, whose passing gives `deadline_cause`: not registered with
    /// `parent`'s scope (invariant 9), and born done if that scope already
    /// is.
    pub(crate) fn new(
        parent: &Context<'_>,
        deadline: Option<Instant>,
        deadline_cause: Option<Cause>,
    ) -> Arc<Self> {
        let packed = deadline.and_then(PackedDeadline::pack);
        let unpacked = deadline.filter(|_| packed.is_none());
        let shared = (unpacked.is_some() || deadline_cause.is_some()).then(|| {
            Box::new(Shared {
                deadline: unpacked,
                deadline_cause,
                ..Shared::default()
            })
        });
        let scope = parent.scope();
        let node = Arc::new(CancelNode {
            parent: parent.erase(),
            state: AtomicU8::new(LIVE),
            flags: AtomicU8::new(birth_flags(deadline.is_some(), scope)),
            deadline: packed.unwrap_or(PackedDeadline::NONE),
            slot: AtomicU32::new(if scope.is_none() { ROOT } else { NO_SLOT }),
            shared: Mutex::new(shared),
        });
        if let Some(scope) = scope {
            scope.pass_on_done(&node);
        }
        node
    }

    /// The effective deadline: this node's own, or the inherited one (a
    /// node only has its own when it is earlier).
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline_owner()?.own_deadline()
    }

    /// The nearest node, this one or an ancestor, whose own deadline is
    /// the effective one here.
    fn deadline_owner(&self) -> Option<&CancelNode> {
        let mut node = self;
        while !node.has_deadline() {
            node = node.parent.scope()?;
        }
        Some(node)
    }

    /// Ends this node as its deadline passing does: with
    /// [`Error::DeadlineExceeded`] and the deadline's cause. Called by its
    /// timer, and by a check that found the deadline passed first.
    pub(crate) fn expire(&self) {
        let cause = lock(&self.shared)
            .as_ref()
            .and_then(|shared| shared.deadline_cause.clone());
        self.cancel(Error::DeadlineExceeded, cause);
    }

    /// The cause the passing of the effective deadline here gives: for a
    /// merge, which copies the deadline of its second context.
    pub(crate) fn effective_deadline_cause(&self) -> Option<Cause> {
        let owner = self.deadline_owner()?;
        lock(&owner.shared)
            .as_ref()
            .and_then(|shared| shared.deadline_cause.clone())
    }

    /// [`err`](Self::err) for a check before work is polled: once in a
    /// while (see `clock.rs`) it also reads the clock, and ends the node
    /// whose deadline has passed if its timer has not yet, so a loop of
    /// ready awaits stops even where no timer runs (a current-thread
    /// runtime busy with the loop, another executor).
    #[inline]
    pub(crate) fn check(&self) -> Option<Error> {
        let err = self.err();
        if err.is_none()
            && self.flags.load(Ordering::Relaxed) & DEADLINE_APPLIES != 0
            && clock::now_and_then()
        {
            return self.expire_if_passed();
        }
        err
    }

    /// Expires the owner of the effective deadline if it has passed; the
    /// node's error after that.
    #[cold]
    #[inline(never)]
    fn expire_if_passed(&self) -> Option<Error> {
        let owner = self.deadline_owner()?;
        if owner
            .own_deadline()
            .is_some_and(|deadline| deadline <= Instant::now())
        {
            owner.expire();
        }
        self.err()
    }

    /// The deadline this node was given itself, if any.
    pub(crate) fn own_deadline(&self) -> Option<Instant> {
        if !self.has_deadline() {
            return None;
        }
        if let Some(deadline) = self.deadline.unpack() {
            return Some(deadline);
        }
        lock(&self.shared)
            .as_ref()
            .and_then(|shared| shared.deadline)
    }

    fn has_deadline(&self) -> bool {
        self.flags.load(Ordering::Relaxed) & HAS_DEADLINE != 0
    }

    /// Under the node's lock, before registering with it or joining its
    /// parent: marks it [`ENGAGED`] if it is live, and returns why it is
    /// done otherwise. Once engaged, nothing but a cancellation under this
    /// lock can end it, so it stays live until the lock is released.
    fn engage(&self) -> Option<Error> {
        let state = self.state.load(Ordering::Relaxed);
        if state & ENGAGED != 0 || is_done(state) {
            return decode(state);
        }
        // One read-modify-write against a lock-free cancel's: whichever
        // comes first, the other sees it.
        decode(self.state.fetch_or(ENGAGED, Ordering::Relaxed))
    }

    /// Records whether `shared` holds anything a cancellation must take
    /// ([`HOLDS`]), and disengages the node once it holds nothing. Under
    /// the node's lock, after every change to its registry.
    fn note_holdings(&self, shared: &Shared) {
        let holds = shared.registry.occupied != 0;
        let flags = self.flags.load(Ordering::Relaxed) & !HOLDS;
        self.flags
            .store(if holds { flags | HOLDS } else { flags }, Ordering::Relaxed);
        if !holds {
            // Nothing left to take: a cancellation may end the node
            // without its lock again (invariant 1), as a request's
            // children that were waited on once end when their parent is
            // cancelled. A read-modify-write, so a lock-free cancellation
            // that reads its result also sees what was written under the
            // lock before it (the slot of the node's join, which that
            // cancellation must leave).
            self.state.fetch_and(!ENGAGED, Ordering::Release);
        }
    }

    /// Adds `entry` to the registry of this live node, whose lock `shared`
    /// is.
    fn insert_entry(&self, shared: &mut Option<Box<Shared>>, entry: Entry) -> u32 {
        let shared = shared.get_or_insert_with(Box::default);
        let slot = shared.registry.insert(entry);
        self.note_holdings(shared);
        slot
    }

    /// Removes the entry in `slot` from the registry of this live node,
    /// whose lock `shared` is.
    fn remove_entry(&self, shared: &mut Option<Box<Shared>>, slot: u32) -> Entry {
        let shared = registered(shared);
        let entry = shared.registry.remove(slot);
        self.note_holdings(shared);
        entry
    }

    /// Makes a brand-new `child` done with this node's error and cause if
    /// this node is done (its cause was stored under its lock with its
    /// state). Nothing is registered with the child yet, so `finish` marks
    /// its subtree done with it.
    ///
    /// Reads this node's own state, not its unattached ancestors': a child
    /// whose grandparent is done finds it when something first looks at it
    /// (invariant 9), as its parent would. Looking here would make every
    /// context of a chain deeper than [`WALK_LIMIT`] attach as it is built
    /// (each birth's walk attaching the ancestor at its limit), which a
    /// chain that nothing checks or waits on never needs.
    fn pass_on_done(&self, child: &CancelNode) {
        if let Some(err) = decode(self.state.load(Ordering::Acquire)) {
            child.finish(err, self.explicit_cause());
        }
    }

    /// Why this node is done, or `None` while it is live. Lock-free unless
    /// it finds the node done by an ancestor (invariant 9).
    #[inline]
    pub(crate) fn err(&self) -> Option<Error> {
        let state = self.state.load(Ordering::Acquire);
        if is_done(state) || self.slot.load(Ordering::Relaxed) != NO_SLOT {
            // Done, or attached (or a root): its own state is the answer.
            return decode(state);
        }
        self.inherited_err()
    }

    /// [`err`](Self::err) of a live node not attached to its parent: done
    /// if an ancestor on its unattached path is (then made done from it),
    /// live otherwise. A walk that passes [`WALK_LIMIT`] unattached
    /// ancestors attaches the last one, so checks stay short on any chain.
    #[inline(never)]
    fn inherited_err(&self) -> Option<Error> {
        let mut node = self;
        let mut walked = 0;
        while let Some(parent) = node.parent.scope() {
            if is_done(parent.state.load(Ordering::Acquire)) {
                self.inherit_cancellation();
                return decode(self.state.load(Ordering::Acquire));
            }
            if parent.slot.load(Ordering::Relaxed) != NO_SLOT {
                return None;
            }
            walked += 1;
            if walked == WALK_LIMIT {
                parent.attach();
                // Attached, or found done on the way: either way, the walk
                // from here on is short.
                return self.err();
            }
            node = parent;
        }
        None
    }

    /// Makes this node done as its nearest done ancestor's cancellation
    /// would have, had it been attached: top-down, each node on the way is
    /// canceled with its parent's error and cause (invariant 9).
    #[cold]
    fn inherit_cancellation(&self) {
        let live = self.ancestors_until(|ancestor| is_done(ancestor.state.load(Ordering::Acquire)));
        let top_down = live.into_iter().rev().map(|ancestor| &**ancestor);
        for node in top_down.chain(std::iter::once(self)) {
            let Some(parent) = node.parent.scope() else {
                // No done ancestor after all: states never go back, so
                // only a caller that saw none gets here.
                return;
            };
            let err = decode(parent.state.load(Ordering::Acquire))
                .expect("a parent canceled before its child (top-down)");
            node.cancel_subtree(err, parent.explicit_cause());
        }
    }

    /// Registers this node with its parent scope, after that scope with
    /// its own and so on up to an attached ancestor, so that from then on
    /// an ancestor's cancellation reaches it by the walk. A node already
    /// attached, a root, or a node done meanwhile is left as it is; a node
    /// whose parent is done is made done from it.
    fn attach(self: &Arc<Self>) {
        if self.slot.load(Ordering::Relaxed) != NO_SLOT {
            return;
        }
        let unattached =
            self.ancestors_until(|ancestor| ancestor.slot.load(Ordering::Relaxed) != NO_SLOT);
        for node in unattached.into_iter().rev().chain(std::iter::once(self)) {
            node.join_parent();
        }
    }

    /// This node's ancestors, nearest first, up to the root or to the first
    /// one `stop` accepts (not included).
    fn ancestors_until(
        &self,
        stop: impl Fn(&CancelNode) -> bool,
    ) -> SmallVec<[&Arc<CancelNode>; 8]> {
        let mut ancestors = SmallVec::new();
        let mut node = self;
        while let Some(parent) = node.parent.scope() {
            if stop(parent) {
                break;
            }
            ancestors.push(parent);
            node = parent;
        }
        ancestors
    }

    /// One step of [`attach`](Self::attach): this node into its parent's
    /// registry, under the parent's lock (invariant 9).
    fn join_parent(self: &Arc<Self>) {
        let Some(parent) = self.parent.scope() else {
            return;
        };
        let refused = {
            let mut shared = lock(&parent.shared);
            match parent.engage() {
                None => {
                    // Under this node's lock too, the tree's one nested
                    // lock (invariant 4), and engaged: a cancel of this
                    // node either came first, and it does not join, or
                    // sees the slot when its lock is released, and leaves
                    // the parent.
                    let _own = lock(&self.shared);
                    if self.slot.load(Ordering::Relaxed) == NO_SLOT && self.engage().is_none() {
                        let slot =
                            parent.insert_entry(&mut shared, Entry::Child(Arc::downgrade(self)));
                        self.slot.store(slot, Ordering::Relaxed);
                    }
                    None
                }
                Some(err) => Some((err, shared.as_ref().and_then(|shared| shared.cause.clone()))),
            }
        };
        if let Some((err, cause)) = refused {
            self.cancel_subtree(err, cause);
        }
    }

    /// The cause of the cancellation: the explicit one, else the error.
    pub(crate) fn cause(&self) -> Option<Cause> {
        let err = self.err()?;
        Some(self.explicit_cause().unwrap_or_else(|| Arc::new(err)))
    }

    /// The cause given to the cancellation, if one was.
    fn explicit_cause(&self) -> Option<Cause> {
        if self.state.load(Ordering::Acquire) & HAS_CAUSE == 0 {
            // Live, or done without one: children born done under a
            // context cancelled without a cause read it without the lock.
            return None;
        }
        lock(&self.shared)
            .as_ref()
            .and_then(|shared| shared.cause.clone())
    }

    /// Adds `entry` to the registry while the node is live.
    pub(crate) fn register(self: &Arc<Self>, entry: Entry) -> Result<u32, Refused> {
        self.attach();
        let mut shared = lock(&self.shared);
        match self.engage() {
            None => Ok(self.insert_entry(&mut shared, entry)),
            Some(err) => {
                let cause = shared.as_ref().and_then(|shared| shared.cause.clone());
                Err(Refused { entry, err, cause })
            }
        }
    }

    /// Replaces the waker in `slot`, unless the node is done meanwhile.
    pub(crate) fn rewake(&self, slot: u32, waker: &Waker) -> Result<(), Error> {
        let mut shared = lock(&self.shared);
        if let Some(err) = decode(self.state.load(Ordering::Relaxed)) {
            return Err(err);
        }
        let old = mem::replace(
            &mut registered(&mut shared).registry.entries[slot as usize],
            Entry::Waiter(waker.clone()),
        );
        drop(shared);
        drop(old);
        Ok(())
    }

    /// Removes the registration in `slot`; `false` if cancellation already
    /// took it (invariant 3).
    pub(crate) fn deregister(&self, slot: u32) -> bool {
        let mut shared = lock(&self.shared);
        if is_done(self.state.load(Ordering::Relaxed)) {
            return false;
        }
        let entry = self.remove_entry(&mut shared, slot);
        // An after-func's captures may own contexts; their drop takes locks.
        drop(shared);
        drop(entry);
        true
    }

    /// Cancels this node and every descendant with `err` and `cause`, and
    /// removes it from its parent. Only the first cancellation of a node has
    /// any effect: its error and cause stick, and a node whose ancestor is
    /// already done is done with that ancestor's (as in Go, where the
    /// ancestor's cancellation would have reached it first; invariant 9).
    /// Either way, when this returns the whole subtree is done, as when
    /// Go's `cancel` returns (and the merged contexts it reached, if this
    /// call made the node done: invariant 8).
    pub(crate) fn cancel(&self, err: Error, cause: Option<Cause>) {
        // Looking makes a node whose ancestor is done done from it; then
        // this cancellation, like any later one, only waits for its
        // propagation.
        self.err();
        if cause.is_none() && matches!(self.end_unengaged(err, &None), Some(Finish::Leaf)) {
            // The common end of a request's context: a leaf, nothing to
            // walk.
            self.leave_parent();
            return;
        }
        self.cancel_subtree(err, cause);
    }

    /// Whether anything is registered with this node, which nothing else
    /// can reach.
    fn holds_registrations(&mut self) -> bool {
        exclusive(&mut self.shared)
            .as_ref()
            .is_some_and(|shared| shared.registry.occupied != 0)
    }

    /// Cancels this node and its subtree with `err` and `cause`, whatever
    /// its ancestors' state: [`cancel`](Self::cancel) once it has looked at
    /// them, and the cancellation a parent hands down.
    fn cancel_subtree(&self, err: Error, cause: Option<Cause>) {
        if let Some(merged) = self.cancel_tree(err, cause.clone()) {
            cancel_merged(merged, err, cause);
        }
    }

    /// Cancels this node and its subtree, as [`cancel_subtree`](Self::cancel_subtree), but
    /// hands back the merged contexts the walk reached through their second
    /// parent (if it reached any) instead of cancelling them.
    fn cancel_tree(&self, err: Error, cause: Option<Cause>) -> Option<Vec<Weak<CancelNode>>> {
        match self.finish(err, cause.clone()) {
            Finish::Leaf => {
                self.leave_parent();
                None
            }
            Finish::Notify(entries) => {
                // Still in its parent's registry while it propagates, as
                // in Go: a parent's cancel that comes meanwhile finds it
                // and waits for its subtree, so that it too returns with
                // every descendant done (invariant 6).
                let merged = notify(self, entries, err, cause);
                self.leave_parent();
                (!merged.is_empty()).then_some(merged)
            }
            Finish::AlreadyDone => {
                self.wait_propagated();
                None
            }
        }
    }

    /// Waits until the thread that made this node done has made every
    /// descendant done too. That thread holds no lock and runs no user code
    /// until it is finished (see [`notify`]), and waits only for nodes below
    /// this one, so the wait always ends.
    fn wait_propagated(&self) {
        while self.state.load(Ordering::Acquire) & PROPAGATED == 0 {
            yield_now();
        }
    }

    fn mark_propagated(&self) {
        self.state.fetch_or(PROPAGATED, Ordering::Release);
    }

    /// Marks the node done and takes its registrations, if it was live. A
    /// node that had none has no descendant either: it is marked
    /// `PROPAGATED` in the same store.
    fn finish(&self, err: Error, cause: Option<Cause>) -> Finish {
        if cause.is_none() {
            if let Some(finish) = self.end_unengaged(err, &cause) {
                return finish;
            }
        }
        let mut shared = lock(&self.shared);
        // A node nothing was registered with ends the same way under the
        // lock, where a cause is kept (another cancellation may still end
        // it without the lock meanwhile); an engaged one stays live while
        // the lock is held.
        let finish = match self.end_unengaged(err, &cause) {
            Some(finish) => finish,
            None => {
                let entries = match shared.as_mut() {
                    Some(shared) if self.flags.load(Ordering::Relaxed) & HOLDS != 0 => {
                        shared.registry.take()
                    }
                    _ => None,
                };
                let done = match entries {
                    Some(_) => encode(err),
                    None => encode(err) | PROPAGATED,
                } | cause_bit(&cause);
                self.state.store(done, Ordering::Release);
                entries.map_or(Finish::Leaf, Finish::Notify)
            }
        };
        if cause.is_some() && !matches!(finish, Finish::AlreadyDone) {
            shared.get_or_insert_with(Box::default).cause = cause;
        }
        drop(shared);
        finish
    }

    /// Ends a node with nothing registered (not [`ENGAGED`]) by one
    /// compare-and-swap, without its lock: it has nothing to take, and
    /// its state records whether there is a `cause`, which the caller keeps
    /// under the lock. `None` if it is engaged: only [`finish`](Self::finish)
    /// under its lock may end it.
    #[inline]
    fn end_unengaged(&self, err: Error, cause: &Option<Cause>) -> Option<Finish> {
        let state = self.state.load(Ordering::Acquire);
        if state != LIVE {
            return is_done(state).then_some(Finish::AlreadyDone);
        }
        match self.state.compare_exchange(
            LIVE,
            encode(err) | PROPAGATED | cause_bit(cause),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => Some(Finish::Leaf),
            Err(state) => is_done(state).then_some(Finish::AlreadyDone),
        }
    }

    /// Whether this node holds (or, a hint, held until its parent's
    /// cancel took it) a slot in its parent's registry.
    fn is_attached(&self) -> bool {
        self.slot.load(Ordering::Relaxed) < ROOT
    }

    /// Removes this node's entry from its parent scope's registry.
    #[inline]
    fn leave_parent(&self) {
        // Never joined (or a root): nothing to take the parent's lock for.
        // A join that raced this node's cancel saw it done, or set the
        // slot before that cancel released the node's lock (invariant 9).
        if self.is_attached() {
            self.remove_from_parent();
        }
    }

    /// [`leave_parent`](Self::leave_parent) of a node that joined.
    fn remove_from_parent(&self) {
        let Some(parent) = self.parent.scope() else {
            return;
        };
        let mut shared = lock(&parent.shared);
        // A done parent has already taken every entry (invariant 3).
        if is_done(parent.state.load(Ordering::Relaxed)) {
            return;
        }
        let slot = self.slot.swap(NO_SLOT, Ordering::Relaxed);
        if slot != NO_SLOT {
            let entry = parent.remove_entry(&mut shared, slot);
            drop(shared);
            drop(entry);
        }
    }

    /// How many registrations the node holds: children, waiters,
    /// after-funcs, merged contexts, and a merged node's record of its
    /// second parent. For tests of the no-leak guarantee.
    pub(crate) fn registrations(&self) -> usize {
        lock(&self.shared)
            .as_ref()
            .map_or(0, |shared| shared.registry.occupied)
    }
}

impl fmt::Debug for CancelNode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelNode")
            .field("err", &self.err())
            .finish_non_exhaustive()
    }
}

impl CancelNode {
    /// Releases the node's place in the tree and hands back its parent, for
    /// `Context`'s iterative drop.
    pub(crate) fn into_parent(mut self) -> Context<'static> {
        self.release();
        mem::replace(&mut self.parent, Context::background())
    }

    /// Ends the node's place in the tree as its last owner (context or
    /// handle) goes: leaves the parent's registry, if cancellation has not
    /// done so already, and cancels the node first if something is still
    /// registered with it (invariant 10).
    fn release(&mut self) {
        // `&mut self`: nothing else can reach this node any more. The
        // acquire of the last reference count's decrement made every
        // registration of the owners dropped before visible here.
        if self.holds_registrations() {
            self.cancel(Error::Canceled, None);
            return;
        }
        // A node whose cancellation already left its parent, or that never
        // joined, skips the parent's lock; a stale `slot` can only be a
        // number not yet swapped out, which `leave_parent` re-checks under
        // that lock.
        self.leave_parent();
    }
}

impl Drop for CancelNode {
    fn drop(&mut self) {
        self.release();
    }
}

/// The flags a node is born with: whether it has a deadline of its own,
/// and whether one applies to it, its own or one its parent `scope` has.
fn birth_flags(own_deadline: bool, scope: Option<&Arc<CancelNode>>) -> u8 {
    let inherited =
        scope.is_some_and(|scope| scope.flags.load(Ordering::Relaxed) & DEADLINE_APPLIES != 0);
    match (own_deadline, inherited) {
        (true, _) => HAS_DEADLINE | DEADLINE_APPLIES,
        (false, true) => DEADLINE_APPLIES,
        (false, false) => 0,
    }
}

/// The shared state of a live node that holds a registration: it was
/// allocated by that registration (invariant 2), and its registry is only
/// taken by cancellation.
fn registered(shared: &mut Option<Box<Shared>>) -> &mut Shared {
    shared
        .as_mut()
        .expect("a live node with a registration has its shared state")
}

/// Cancels the merged contexts a walk reached through their second parent,
/// and those their walks reach: one walk after the other rather than
/// nested, so no chain of merges deepens the stack (invariant 8). Out of
/// line: most cancellations reach none.
#[inline(never)]
fn cancel_merged(mut merged: Vec<Weak<CancelNode>>, err: Error, cause: Option<Cause>) {
    while let Some(node) = merged.pop() {
        if let Some(node) = node.upgrade() {
            merged.extend(node.cancel_tree(err, cause.clone()).into_iter().flatten());
        }
    }
}

/// How many entries ahead a cancellation's walk touches the next children.
const LOOK_AHEAD: usize = 8;

/// One step of a cancellation's walk down the tree.
enum Step {
    /// Entries taken from a node that was just made done.
    Notify(Entries),
    /// Every descendant of this node is done: popped after them, because it
    /// is pushed before them.
    Propagated(Arc<CancelNode>),
}

/// Delivers a cancellation to the entries taken from `root`, descending
/// into children with an explicit stack (no recursion, no lock held).
///
/// Waking, starting after-funcs (under loom, running them) and dropping the
/// last reference to a node can all run user code, which may cancel a
/// context of this very subtree and so wait for its propagation: they are
/// deferred until every node here is marked propagated. (`Arc::into_inner` tells, atomically, whether the
/// walk's reference was the last; any other is released on the spot.)
///
/// Returns the merged contexts reached through their second parent, for
/// the caller to cancel next (invariant 8).
fn notify(
    root: &CancelNode,
    entries: Entries,
    err: Error,
    cause: Option<Cause>,
) -> Vec<Weak<CancelNode>> {
    let mut wakers = Vec::new();
    let mut after_funcs = Vec::new();
    let mut reached = Vec::new();
    let mut merged = Vec::new();
    // The root's entries are walked before anything is pushed: a node
    // without grandchildren cancels without allocating a stack.
    let mut steps = Vec::new();
    let mut next = Some(entries);
    loop {
        let mut entries = match next.take().map(Step::Notify).or_else(|| steps.pop()) {
            None => break,
            Some(Step::Notify(entries)) => entries,
            Some(Step::Propagated(node)) => {
                node.mark_propagated();
                reached.extend(Arc::into_inner(node));
                continue;
            }
        };
        for index in 0..entries.len() {
            // A wide tree's walk waits on one cache miss per child. Reading
            // a child a few entries ahead starts its miss early, so several
            // are in flight at once: cancelling 100,000 children went from
            // 5.09 to 4.30 ms (`vs_tokio_util` CancelSubtree).
            if let Some(Entry::Child(ahead)) = entries.get(index + LOOK_AHEAD) {
                std::hint::black_box(ahead.strong_count());
            }
            let entry = mem::replace(&mut entries[index], Entry::Vacant(NO_SLOT));
            match entry {
                Entry::Child(child) => {
                    let Some(child) = child.upgrade() else {
                        continue;
                    };
                    match child.finish(err, cause.clone()) {
                        // `finish` marked it propagated.
                        Finish::Leaf => {
                            reached.extend(Arc::into_inner(child));
                        }
                        Finish::Notify(grandchildren) => {
                            steps.push(Step::Propagated(child));
                            steps.push(Step::Notify(grandchildren));
                        }
                        // Canceled first by another thread, which is still
                        // propagating: this subtree is done when it is.
                        Finish::AlreadyDone => {
                            child.wait_propagated();
                            reached.extend(Arc::into_inner(child));
                        }
                    }
                }
                Entry::Waiter(waker) => wakers.push(waker),
                Entry::AfterFunc(f) => after_funcs.push(f),
                Entry::Merged(node) => merged.push(node),
                Entry::MergedInto(second_parent, slot) => {
                    second_parent.deregister(slot);
                    reached.extend(Arc::into_inner(second_parent));
                }
                Entry::Vacant(_) => {}
            }
        }
    }
    root.mark_propagated();
    wakers.into_iter().for_each(Waker::wake);
    after_funcs.into_iter().for_each(after_func::start);
    drop(reached);
    merged
}

/// [`HAS_CAUSE`] if there is a `cause`.
fn cause_bit(cause: &Option<Cause>) -> u8 {
    if cause.is_some() {
        HAS_CAUSE
    } else {
        0
    }
}

/// Whether `state` is a done node's.
#[inline]
fn is_done(state: u8) -> bool {
    state & ERR != LIVE
}

#[inline]
fn decode(state: u8) -> Option<Error> {
    match state & ERR {
        LIVE => None,
        CANCELED => Some(Error::Canceled),
        _ => Some(Error::DeadlineExceeded),
    }
}

fn encode(err: Error) -> u8 {
    match err {
        Error::Canceled => CANCELED,
        Error::DeadlineExceeded => DEADLINE_EXCEEDED,
    }
}

#[cfg(test)]
mod tests {
    use super::{CancelNode, Entry, Registry, KEPT_CAPACITY};

    fn vacant() -> Entry {
        Entry::Vacant(0)
    }

    /// The budget (a goal of BENCHMARKS.md): a cancelable node in 64 bytes,
    /// `Arc` header included: one cache line.
    #[test]
    fn a_cancelable_node_fits_in_64_bytes() {
        assert!(std::mem::size_of::<CancelNode>() + 2 * std::mem::size_of::<usize>() <= 64);
    }

    /// A slab emptied by its owners keeps its slots, vacant, and reuses
    /// them: child churn under a parent neither allocates nor grows it.
    #[test]
    fn an_emptied_registry_reuses_its_slots() {
        let mut registry = Registry::default();
        let slots: Vec<u32> = (0..3).map(|_| registry.insert(vacant())).collect();
        for &slot in &slots {
            registry.remove(slot);
        }
        assert_eq!(registry.occupied, 0);
        assert_eq!(registry.entries.len(), 3);
        let reused: Vec<u32> = (0..3).map(|_| registry.insert(vacant())).collect();
        assert!(reused.iter().all(|slot| slots.contains(slot)));
        assert_eq!(registry.entries.len(), 3);
        // A fourth registration grows the slab.
        assert_eq!(registry.insert(vacant()), 3);
    }

    /// Cancellation takes nothing from a slab whose slots are all vacant,
    /// and everything from one that holds a registration.
    #[test]
    fn taking_a_registry_hands_over_only_occupied_slabs() {
        let mut registry = Registry::default();
        let slot = registry.insert(vacant());
        registry.remove(slot);
        assert!(registry.take().is_none());
        registry.insert(vacant());
        registry.insert(vacant());
        assert_eq!(registry.take().map(|entries| entries.len()), Some(2));
        assert_eq!(registry.occupied, 0);
        assert!(registry.entries.is_empty());
    }

    /// A slab above the kept capacity is freed once it empties: a parent
    /// does not keep the high-water mark of its children.
    #[test]
    fn a_large_emptied_registry_is_freed() {
        let mut registry = Registry::default();
        let slots: Vec<u32> = (0..=KEPT_CAPACITY)
            .map(|_| registry.insert(vacant()))
            .collect();
        for &slot in &slots {
            registry.remove(slot);
        }
        assert_eq!(registry.entries.capacity(), 1, "back to the inline slot");
        assert_eq!(registry.insert(vacant()), 0);
    }
}
