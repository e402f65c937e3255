//! Where after-funcs run: never on the canceller's stack.
//!
//! Go runs an `AfterFunc` in a goroutine of its own, so `cancel()` never
//! waits for it and a slow one delays nobody. Here an after-func is handed
//! to the blocking pool of the Tokio runtime current on the cancelling
//! thread (threads made for code that may block, and reused), or, with no
//! runtime there, to a thread of its own. Either way the canceller, and in
//! particular a runtime's deadline driver, goes on at once.
//!
//! Under loom (`--cfg ctx_loom`) an after-func runs inline on the
//! cancelling thread, after every lock is released: neither Tokio's
//! blocking pool nor `std::thread` can be driven by loom's scheduler, and
//! what the models check (an after-func runs exactly once; `stop()` is true
//! if and only if it prevented the run) is decided under the node's lock,
//! before the function is handed anywhere.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// A function registered with [`Context::after_func`](crate::Context::after_func).
pub(crate) type AfterFunc = Box<dyn FnOnce() + Send>;

/// Starts `f` off the calling thread's stack: on the current Tokio
/// runtime's blocking pool, else on a new thread. Returns at once.
#[cfg(not(ctx_loom))]
pub(crate) fn start(f: AfterFunc) {
    let job = Job(Some(f));
    match tokio::runtime::Handle::try_current() {
        // The handle is dropped, not awaited: nobody waits for an
        // after-func, and a panic in it is contained by `Job::run`.
        Ok(runtime) => drop(runtime.spawn_blocking(move || job.run())),
        Err(_) => job.run_on_own_thread(),
    }
}

/// Runs `f` here: loom cannot model the threads `start` hands it to.
#[cfg(ctx_loom)]
pub(crate) fn start(f: AfterFunc) {
    contained(f);
}

/// Runs an after-func, containing a panic: the panic hook has reported it,
/// and the thread it runs on (a pool thread, shared) must not pay for it.
fn contained(f: AfterFunc) {
    let _contained = catch_unwind(AssertUnwindSafe(f));
}

/// An after-func on its way to a thread. If it is dropped before it ran
/// (a runtime shutting down drops the blocking tasks it has not started),
/// it runs on a thread of its own instead: an after-func is never lost.
#[cfg(not(ctx_loom))]
struct Job(Option<AfterFunc>);

#[cfg(not(ctx_loom))]
impl Job {
    fn run(mut self) {
        if let Some(f) = self.0.take() {
            contained(f);
        }
    }

    fn run_on_own_thread(mut self) {
        let Some(f) = self.0.take() else {
            return;
        };
        // Shared with the new thread so that `f` can still be run here if
        // the OS refuses the thread (`spawn` drops its closure then).
        let slot = std::sync::Arc::new(parking_lot::Mutex::new(Some(f)));
        let theirs = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("ctx-after-func".to_owned())
            .spawn(move || run_from(&theirs));
        if spawned.is_err() {
            run_from(&slot);
        }
    }
}

/// Runs the after-func in `slot`, unless the other side took it.
#[cfg(not(ctx_loom))]
fn run_from(slot: &parking_lot::Mutex<Option<AfterFunc>>) {
    // Taken out first: the lock is not held while `f` runs.
    let f = slot.lock().take();
    if let Some(f) = f {
        contained(f);
    }
}

#[cfg(not(ctx_loom))]
impl Drop for Job {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            Job(Some(f)).run_on_own_thread();
        }
    }
}
