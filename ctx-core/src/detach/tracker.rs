//! Where detached work is tracked: what runs, how the rest ended, and a
//! bounded wait for it at shutdown. Scoped: a server owns one.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use tokio_util::task::task_tracker::TaskTrackerToken;
use tokio_util::task::TaskTracker;

use crate::context::Context;

/// Tracks `#[detached]` work: how much is running, how the rest ended
/// (finished, failed, timed out, panicked), and a bounded wait for it at
/// shutdown, [`drain`](DetachedTracker::drain).
///
/// A tracker is scoped: a server owns one and puts it in its root context
/// as a value (`root.with_value(tracker.clone())`), and every `#[detached]`
/// call under that context registers with it, so a server drains its own
/// work and nothing else. Work whose context carries no tracker registers
/// with the process-wide default, [`DetachedTracker::global`].
/// `ctx::http::Shutdown` makes and drains one for you.
///
/// Clones share the tracker.
///
/// ```
/// use std::time::Duration;
/// use ctx::{detached, Context, DetachedTracker, Error};
///
/// #[detached(timeout = "1s")]
/// async fn publish(ctx: Context, fail: bool) -> Result<(), Error> {
///     tokio::time::sleep(Duration::from_millis(10)).await;
///     if fail { Err(Error::Canceled) } else { Ok(()) }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let tracker = DetachedTracker::new();
/// let root = Context::background().with_value(tracker.clone());
/// publish(root.clone(), false);
/// publish(root.clone(), true); // logged: "detached `publish` failed: Canceled"
/// assert_eq!(tracker.running(), 2);
///
/// let (bound, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
/// let report = tracker.drain(&bound).await;
/// assert_eq!((report.finished, report.failed, report.running), (1, 1, 0));
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct DetachedTracker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Closed from the start: a `TaskTracker`'s `wait` resolves once it is
    /// closed *and* empty, and being closed refuses nothing, so `wait` here
    /// means "until no work runs".
    tasks: TaskTracker,
    /// How many ended each way, indexed by [`Ending`].
    ended: [AtomicUsize; Ending::COUNT],
}

impl Default for Inner {
    fn default() -> Inner {
        let tasks = TaskTracker::new();
        tasks.close();
        Inner {
            tasks,
            ended: Default::default(),
        }
    }
}

/// How one piece of detached work ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    Finished,
    Failed,
    TimedOut,
    Panicked,
    /// Dropped unfinished: its runtime shut down.
    Abandoned,
}

impl Ending {
    const COUNT: usize = 5;
}

/// The process-wide default tracker.
static GLOBAL: LazyLock<DetachedTracker> = LazyLock::new(DetachedTracker::new);

impl DetachedTracker {
    /// A tracker with nothing registered yet.
    ///
    /// ```
    /// let tracker = ctx::DetachedTracker::new();
    /// assert_eq!(tracker.running(), 0);
    /// ```
    pub fn new() -> DetachedTracker {
        DetachedTracker::default()
    }

    /// The process-wide default: where `#[detached]` work registers when
    /// its context carries no tracker (a `Context::background()` in `main`,
    /// a test). [`DetachedTracker::of`] returns it for such contexts.
    ///
    /// ```
    /// use ctx::{Context, DetachedTracker};
    ///
    /// let main_ctx = Context::background();
    /// let default = DetachedTracker::of(&main_ctx);
    /// assert!(std::ptr::eq(default, DetachedTracker::global()));
    /// ```
    pub fn global() -> &'static DetachedTracker {
        &GLOBAL
    }

    /// The tracker `ctx` carries as a value, else the
    /// [`global`](DetachedTracker::global) one: where a `#[detached]` call
    /// given `ctx` registers.
    ///
    /// ```
    /// use ctx::{Context, DetachedTracker};
    ///
    /// let tracker = DetachedTracker::new();
    /// let (root, _shutdown) = Context::background().with_value(tracker.clone()).with_cancel();
    /// let request = root.with_value("a request value");
    /// assert!(DetachedTracker::ptr_eq(DetachedTracker::of(&request), &tracker));
    /// ```
    pub fn of<'c>(ctx: &'c Context<'_>) -> &'c DetachedTracker {
        ctx.value::<DetachedTracker>()
            .unwrap_or_else(|| DetachedTracker::global())
    }

    /// Whether `left` and `right` are handles on the same tracker.
    ///
    /// ```
    /// use ctx::DetachedTracker;
    ///
    /// let tracker = DetachedTracker::new();
    /// assert!(DetachedTracker::ptr_eq(&tracker, &tracker.clone()));
    /// assert!(!DetachedTracker::ptr_eq(&tracker, &DetachedTracker::new()));
    /// ```
    pub fn ptr_eq(left: &DetachedTracker, right: &DetachedTracker) -> bool {
        Arc::ptr_eq(&left.inner, &right.inner)
    }

    /// How many detached calls registered here are still running.
    ///
    /// ```
    /// assert_eq!(ctx::DetachedTracker::new().running(), 0);
    /// ```
    pub fn running(&self) -> usize {
        self.inner.tasks.len()
    }

    /// How the work registered here ended so far, and how much is still
    /// running. Counts are since the tracker was made.
    ///
    /// ```
    /// let report = ctx::DetachedTracker::new().report();
    /// assert_eq!(report.finished + report.failed + report.running, 0);
    /// ```
    pub fn report(&self) -> DrainReport {
        let ended = |ending: Ending| self.inner.ended[ending as usize].load(Ordering::Acquire);
        DrainReport {
            finished: ended(Ending::Finished),
            failed: ended(Ending::Failed),
            timed_out: ended(Ending::TimedOut),
            panicked: ended(Ending::Panicked),
            abandoned: ended(Ending::Abandoned),
            running: self.running(),
        }
    }

    /// Waits until no work registered here is running, or until `bound` is
    /// done, then reports: shutdown's "no publish lost at exit", bounded
    /// like Go's `http.Server.Shutdown(ctx)`. Work registered while waiting
    /// is waited for too. A report with `running > 0` says how much the
    /// bound cut off.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::{Context, DetachedTracker};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let (bound, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
    /// let report = DetachedTracker::new().drain(&bound).await;
    /// assert_eq!(report.running, 0);
    /// # }
    /// ```
    pub async fn drain(&self, bound: &Context<'_>) -> DrainReport {
        // Cut off by `bound`: the report's `running` says how much.
        let _cut_off = bound.run(self.inner.tasks.wait()).await;
        self.report()
    }

    /// Registers one piece of work; it runs until the token is dropped.
    pub(crate) fn register(&self) -> TaskTrackerToken {
        self.inner.tasks.token()
    }

    /// Counts how one piece of work ended, before its token is dropped.
    pub(crate) fn count(&self, ending: Ending) {
        self.inner.ended[ending as usize].fetch_add(1, Ordering::Release);
    }
}

/// What became of the detached work of a [`DetachedTracker`]: how it ended
/// (counts since the tracker was made), and how much is still running. At
/// the end of a [`drain`](DetachedTracker::drain), `running` is what the
/// bound cut off.
///
/// Every ending other than `finished` was also logged when it happened,
/// with the work's name (see `#[detached]`).
///
/// ```
/// let report = ctx::DetachedTracker::new().report();
/// assert!(report.is_clean());
/// assert_eq!(
///     report.to_string(),
///     "0 finished, 0 failed, 0 timed out, 0 panicked, 0 dropped unfinished; 0 still running"
/// );
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainReport {
    /// Returned `Ok`.
    pub finished: usize,
    /// Returned `Err` within its budget.
    pub failed: usize,
    /// Returned `Err` once its own `timeout` had passed.
    pub timed_out: usize,
    /// Panicked.
    pub panicked: usize,
    /// Dropped unfinished, because its runtime shut down.
    pub abandoned: usize,
    /// Still running when the report was made.
    pub running: usize,
}

impl DrainReport {
    /// Whether everything finished: nothing failed, timed out, panicked,
    /// was dropped, or is still running.
    ///
    /// ```
    /// assert!(ctx::DetachedTracker::new().report().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.failed + self.timed_out + self.panicked + self.abandoned + self.running == 0
    }
}

impl fmt::Display for DrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} finished, {} failed, {} timed out, {} panicked, {} dropped unfinished; {} still running",
            self.finished, self.failed, self.timed_out, self.panicked, self.abandoned, self.running
        )
    }
}
