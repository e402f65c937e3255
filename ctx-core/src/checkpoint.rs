//! Cancellation points: the hook behind `ctx::testing` (feature
//! `testing`).
//!
//! Every checked `.await` is a [`Run`](crate::Run) future made by
//! [`Context::run`](crate::Context::run), which, with the feature on, is
//! `#[track_caller]`: its [`Checkpoint`] knows the await's place in the
//! source. A `Run`'s first poll reports it to the observer installed for
//! the current task, which may cancel the context right there; the harness
//! cancels a fn at each of its checked awaits in turn that way.
//!
//! The observer is a tokio task-local rather than a thread-local: the
//! points are the awaits of the fn under test, polled in its own task, not
//! those of whatever else shares its thread (the deadline driver, tasks the
//! fn or the test spawn), which a thread-local scoped to the run would
//! count too, making the points depend on the scheduler. A checked await
//! that no observer watches pays one task-local lookup, with the feature
//! on. Without it, [`Checkpoint`] is zero-sized and does nothing, and
//! `Context::run` does not track its caller: `Run` is what it would be
//! without this module.

#[cfg(feature = "testing")]
pub(crate) use observed::Checkpoint;
#[cfg(feature = "testing")]
pub use observed::{observe, Reached};
#[cfg(not(feature = "testing"))]
pub(crate) use unobserved::Checkpoint;

#[cfg(feature = "testing")]
mod observed {
    use std::cell::RefCell;
    use std::future::Future;
    use std::panic::Location;

    /// A checked await, as reported to the observer of [`observe`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Reached {
        /// Where the await is: the caller of `Context::run`.
        pub location: &'static Location<'static>,
        /// The type of the awaited future, as `std::any::type_name` says
        /// it.
        pub awaited: &'static str,
        /// Whether the awaited future was pending after its first poll:
        /// started and not finished. `false` if it finished at once, or
        /// was never polled because the context was already done.
        pub in_flight: bool,
    }

    type Observer = RefCell<Box<dyn FnMut(Reached)>>;

    tokio::task_local! {
        static OBSERVER: Observer;
    }

    /// Runs `fut`, calling `observer` at each checked await it reaches
    /// (the first poll of each [`Run`](crate::Run) polled as part of it),
    /// right after the awaited future's first poll and before the `Run`
    /// looks at its context again: a context `observer` cancels there is
    /// seen by that very await.
    pub async fn observe<F: Future>(observer: impl FnMut(Reached) + 'static, fut: F) -> F::Output {
        OBSERVER.scope(RefCell::new(Box::new(observer)), fut).await
    }

    /// A `Run`'s place in the source, until its first poll reports it.
    pub(crate) struct Checkpoint {
        unreported: Option<(&'static Location<'static>, &'static str)>,
    }

    impl Checkpoint {
        /// The checkpoint of an await of `awaited` (a future's type name),
        /// at the caller's location.
        #[track_caller]
        pub(crate) fn new(awaited: &'static str) -> Checkpoint {
            Checkpoint {
                unreported: Some((Location::caller(), awaited)),
            }
        }

        /// Reports the checkpoint to the current task's observer, on the
        /// first call only.
        pub(crate) fn reached(&mut self, in_flight: bool) {
            let Some((location, awaited)) = self.unreported.take() else {
                return;
            };
            let reached = Reached {
                location,
                awaited,
                in_flight,
            };
            // Outside `observe`, nobody listens. An await reached during
            // the observer's own call (the cancel it makes runs after-funcs,
            // which might block on one) finds it borrowed, and is not
            // reported rather than panicking.
            let _unobserved = OBSERVER.try_with(|observer| {
                if let Ok(mut observer) = observer.try_borrow_mut() {
                    observer(reached);
                }
            });
        }
    }
}

#[cfg(not(feature = "testing"))]
mod unobserved {
    /// Without the `testing` feature, nothing: zero-sized, and its methods
    /// compile to nothing.
    pub(crate) struct Checkpoint;

    impl Checkpoint {
        #[inline(always)]
        pub(crate) fn new(_awaited: &'static str) -> Checkpoint {
            Checkpoint
        }

        #[inline(always)]
        pub(crate) fn reached(&mut self, _in_flight: bool) {}
    }
}
