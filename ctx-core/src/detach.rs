//! The runtime of `#[detached]`: work spawned with its caller's values but
//! not its cancellation, tracked so shutdown can wait for it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use tokio::task::{JoinError, JoinHandle};

use crate::context::Context;
use crate::error::Error;

/// The handle of a `#[detached]` call: await it for the work's result.
///
/// Dropping it does not cancel the work, which runs to completion (or to
/// its own `timeout`) either way; [`wait_detached`] waits for all of it at
/// shutdown.
///
/// It resolves to `Err` only if the work panicked (the panic is caught and
/// reported here, never taking the process down) or its runtime shut down
/// first.
///
/// ```
/// use ctx::{detached, Context, Error};
///
/// #[detached]
/// async fn audit(ctx: Context, event: &'static str) -> Result<usize, Error> {
///     Ok(event.len())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle: ctx::Detached<Result<usize, Error>> = audit(Context::background(), "login");
/// assert_eq!(handle.await.unwrap(), Ok(5));
/// # }
/// ```
pub struct Detached<T> {
    name: &'static str,
    handle: JoinHandle<T>,
}

impl<T> Detached<T> {
    /// Whether the work has finished, without waiting for it.
    ///
    /// ```
    /// use ctx::{detached, Context, Error};
    ///
    /// #[detached]
    /// async fn warm_cache(ctx: Context) -> Result<(), Error> {
    ///     tokio::task::yield_now().await;
    ///     Ok(())
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let handle = warm_cache(Context::background());
    /// assert!(!handle.is_finished(), "it has not been scheduled yet");
    /// handle.await.unwrap().unwrap();
    /// # }
    /// ```
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

impl<T> Future for Detached<T> {
    type Output = Result<T, DetachError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let name = self.name;
        Pin::new(&mut self.handle)
            .poll(cx)
            .map_err(|source| DetachError { name, source })
    }
}

impl<T> fmt::Debug for Detached<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detached")
            .field("name", &self.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Why a [`Detached`] handle has no result: the work panicked, or its
/// runtime shut down before it finished.
///
/// ```
/// use ctx::{detached, Context, Error};
///
/// #[detached]
/// async fn flaky(ctx: Context) -> Result<(), Error> {
///     panic!("broker client bug");
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let err = flaky(Context::background()).await.unwrap_err();
/// assert!(err.is_panic());
/// let payload = err.try_into_panic().unwrap();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"broker client bug"));
/// # }
/// ```
pub struct DetachError {
    name: &'static str,
    source: JoinError,
}

impl DetachError {
    /// Whether the work panicked.
    pub fn is_panic(&self) -> bool {
        self.source.is_panic()
    }

    /// The panic's payload, to resume it with
    /// [`std::panic::resume_unwind`]; `Err(self)` if the work did not
    /// panic.
    pub fn try_into_panic(self) -> Result<Box<dyn std::any::Any + Send + 'static>, Self> {
        let name = self.name;
        self.source
            .try_into_panic()
            .map_err(|source| DetachError { name, source })
    }
}

impl fmt::Display for DetachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.source.is_panic() {
            write!(f, "detached `{}` panicked", self.name)
        } else {
            write!(
                f,
                "detached `{}` was dropped unfinished: its runtime shut down",
                self.name
            )
        }
    }
}

impl fmt::Debug for DetachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DetachError")
            .field("name", &self.name)
            .field("source", &self.source)
            .finish()
    }
}

impl std::error::Error for DetachError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Waits until no detached work is running, or until `ctx` is done:
/// shutdown's "no publish lost at exit", bounded like Go's
/// `http.Server.Shutdown(ctx)`.
///
/// Work detached while waiting is waited for too.
///
/// ```
/// use std::time::Duration;
/// use ctx::Context;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let (shutdown, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
/// ctx::wait_detached(&shutdown).await.expect("detached work still running after 10s");
/// # }
/// ```
pub async fn wait_detached(ctx: &Context<'_>) -> Result<(), Error> {
    ctx.run(AllFinished).await
}

/// How many `#[detached]` calls are still running, process-wide.
///
/// ```
/// use ctx::{detached, Context, Error};
///
/// #[detached]
/// async fn publish(ctx: Context) -> Result<(), Error> {
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = publish(Context::background());
/// assert_eq!(ctx::detached_running(), 1);
/// handle.await.unwrap().unwrap();
/// assert_eq!(ctx::detached_running(), 0);
/// # }
/// ```
pub fn detached_running() -> usize {
    lock().running
}

/// Spawns the body of a `#[detached]` fn. Generated code only.
#[doc(hidden)]
#[track_caller]
pub fn __detach<T, F, Fut>(
    name: &'static str,
    parent: &Context<'_>,
    timeout: Option<Duration>,
    body: F,
) -> Detached<T>
where
    F: FnOnce(Context<'static>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        panic!(
            "`#[detached]` fn `{name}` was called outside a Tokio runtime: detached work is \
             spawned on Tokio, so call it from within one (e.g. under `#[tokio::main]`)"
        );
    };
    let values = parent.without_cancel();
    let (ctx, budget) = match timeout {
        Some(timeout) => {
            let (ctx, cancel) = values.with_timeout(timeout);
            (ctx, Some(cancel))
        }
        None => (values, None),
    };
    let work = body(ctx);
    let running = Running::start();
    let handle = runtime.spawn(async move {
        // Both live exactly as long as the work, and are dropped even if it
        // panics or its runtime drops it.
        let _running = running;
        let _budget = budget;
        work.await
    });
    Detached { name, handle }
}

struct Tracker {
    running: usize,
    waiting: Vec<Waker>,
}

static TRACKER: Mutex<Tracker> = Mutex::new(Tracker {
    running: 0,
    waiting: Vec::new(),
});

/// Locks the tracker, ignoring poison: no user code runs under it.
fn lock() -> std::sync::MutexGuard<'static, Tracker> {
    TRACKER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One running detached call.
struct Running(());

impl Running {
    fn start() -> Running {
        lock().running += 1;
        Running(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let waiting = {
            let mut tracker = lock();
            tracker.running -= 1;
            if tracker.running > 0 {
                return;
            }
            std::mem::take(&mut tracker.waiting)
        };
        waiting.into_iter().for_each(Waker::wake);
    }
}

/// Ready when no detached work is running.
struct AllFinished;

impl Future for AllFinished {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        let mut tracker = lock();
        if tracker.running == 0 {
            return Poll::Ready(());
        }
        if !tracker.waiting.iter().any(|w| w.will_wake(cx.waker())) {
            tracker.waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
