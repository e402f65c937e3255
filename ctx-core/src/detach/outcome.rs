//! How detached work ended: every failure, timeout, panic and drop of
//! fire-and-forget work is counted by its tracker and logged (`report.rs`,
//! in the span current where the work was started: the request's), never
//! lost silently.

use std::any::Any;
use std::fmt;
use std::time::Duration;

use tokio_util::task::task_tracker::TaskTrackerToken;

use super::tracker::{DetachedTracker, Ending};
use crate::context::Context;
use crate::error::Error;

/// What a `#[detached]` fn returns: a `Result` whose error can be logged.
///
/// The macro already requires `Result<T, E>` with `E: From<ctx::Error>`;
/// the runtime also needs `E: Debug`, to log the `Err` of work nobody
/// awaits. `Debug` rather than `Display`: nearly every error type derives
/// it (`unwrap` and `?` in `main` need it too), so requiring it breaks no
/// existing `#[detached]` fn, and it is what `main` prints for an `Err`.
///
/// ```
/// use ctx::DetachedOutcome;
///
/// let failed: Result<(), ctx::Error> = Err(ctx::Error::DeadlineExceeded);
/// assert_eq!(format!("{:?}", failed.failure().unwrap()), "DeadlineExceeded");
/// assert!(Ok::<u8, ctx::Error>(1).failure().is_none());
/// ```
#[diagnostic::on_unimplemented(
    message = "`#[detached]` fns return `Result<_, E>` with `E: std::fmt::Debug`, not `{Self}`",
    label = "its `Err` is logged when the work fails"
)]
pub trait DetachedOutcome {
    /// The error, if the work failed.
    fn failure(&self) -> Option<&dyn fmt::Debug>;
}

impl<T, E: fmt::Debug> DetachedOutcome for Result<T, E> {
    fn failure(&self) -> Option<&dyn fmt::Debug> {
        self.as_ref().err().map(|error| error as &dyn fmt::Debug)
    }
}

/// The own budget of detached work given a `timeout`.
pub(crate) struct Budget {
    /// The work's context: an `Err` once it is past its deadline is a
    /// timeout.
    pub(crate) ctx: Context<'static>,
    pub(crate) timeout: Duration,
}

/// One piece of detached work, from its spawn to its end: registered with
/// its tracker while it runs, its ending counted and (unless it finished)
/// logged. Dropped before [`settle`](Watch::settle), the work was dropped
/// unfinished.
pub(crate) struct Watch {
    name: &'static str,
    tracker: DetachedTracker,
    budget: Option<Budget>,
    settled: bool,
    /// The work's registration. A field, so it is released after `drop`
    /// has counted the ending: a drain that sees the work gone sees how it
    /// ended.
    _registered: TaskTrackerToken,
}

impl Watch {
    /// Registers one piece of work with `tracker`.
    pub(crate) fn new(
        name: &'static str,
        tracker: DetachedTracker,
        budget: Option<Budget>,
    ) -> Watch {
        Watch {
            name,
            _registered: tracker.register(),
            tracker,
            budget,
            settled: false,
        }
    }

    /// Counts and logs how the work ended: with `outcome`, or with a panic.
    pub(crate) fn settle<T: DetachedOutcome>(mut self, outcome: &Result<T, Box<dyn Any + Send>>) {
        self.settled = true;
        let timed_out = |budget: &Budget| {
            (budget.ctx.err() == Some(Error::DeadlineExceeded)).then_some(budget.timeout)
        };
        let ending = match outcome {
            Ok(output) => match output.failure() {
                None => EndingLog::Finished,
                Some(error) => match self.budget.as_ref().and_then(timed_out) {
                    Some(timeout) => EndingLog::TimedOut { error, timeout },
                    None => EndingLog::Failed { error },
                },
            },
            Err(payload) => EndingLog::Panicked {
                payload: &**payload,
            },
        };
        self.record(&ending);
    }

    /// Counts the ending with the tracker, and logs it unless the work
    /// finished.
    fn record(&self, ending: &EndingLog<'_>) {
        self.tracker.count(ending.kind());
        if !matches!(ending, EndingLog::Finished) {
            log(self.name, ending);
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if !self.settled {
            self.record(&EndingLog::Abandoned);
        }
    }
}

/// An [`Ending`], with the details its log line gives (the error, the
/// timeout, the panic's message).
enum EndingLog<'a> {
    Finished,
    Failed {
        error: &'a dyn fmt::Debug,
    },
    TimedOut {
        error: &'a dyn fmt::Debug,
        timeout: Duration,
    },
    Panicked {
        payload: &'a (dyn Any + Send),
    },
    Abandoned,
}

impl EndingLog<'_> {
    /// The [`Ending`] this logs.
    fn kind(&self) -> Ending {
        match self {
            EndingLog::Finished => Ending::Finished,
            EndingLog::Failed { .. } => Ending::Failed,
            EndingLog::TimedOut { .. } => Ending::TimedOut,
            EndingLog::Panicked { .. } => Ending::Panicked,
            EndingLog::Abandoned => Ending::Abandoned,
        }
    }
}

/// What follows "detached `name` " in the log line.
impl fmt::Display for EndingLog<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndingLog::Finished => f.write_str("finished"),
            EndingLog::Failed { error } => write!(f, "failed: {error:?}"),
            EndingLog::TimedOut { error, timeout } => {
                write!(f, "timed out after its {timeout:?} timeout: {error:?}")
            }
            EndingLog::Panicked { payload } => match panic_message(*payload) {
                Some(message) => write!(f, "panicked: {message}"),
                None => f.write_str("panicked"),
            },
            EndingLog::Abandoned => f.write_str("was dropped unfinished: its runtime shut down"),
        }
    }
}

/// Logs a detached call's ending through the crate's reporter, in the
/// current span (the work runs in its caller's).
fn log(name: &str, ending: &EndingLog<'_>) {
    crate::report::report(format_args!("detached `{name}` {ending}"));
}

/// The message of a panic, from its payload: the `&str` or `String` that
/// `panic!` was given, `None` for any other payload (`panic_any`).
///
/// ```
/// use std::any::Any;
/// use ctx_core::__private::panic_message;
///
/// let formatted: Box<dyn Any + Send> = Box::new(format!("broker {}", "down"));
/// assert_eq!(panic_message(&*formatted), Some("broker down"));
/// assert_eq!(panic_message(&7_u8), None);
/// ```
pub fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}
