//! The observer of checked awaits: the hook behind `ctx::testing` (feature
//! `testing`), which calls each checked await a fn passes a checkpoint.
//!
//! A checked `.await` reports that it is reached, with its place in the
//! source, to the observer installed for the current task, just before it
//! looks at its context: a [`Run`](crate::Run) future (made by
//! [`Context::run`](crate::Context::run), which records its caller's
//! place) at its first poll, and `#[ctx_fn]`'s checks through
//! [`reached`]. The observed future also reports each time it is
//! suspended. The harness cancels a fn at each checkpoint in turn from
//! there: when the fn is suspended at the checkpoint (the awaited future in
//! flight), or else when it reaches the next one.
//!
//! The observer is a tokio task-local rather than a thread-local: the
//! points are the awaits of the fn under test, polled in its own task, not
//! those of whatever else shares its thread (the deadline driver, tasks the
//! fn or the test spawn), which a thread-local scoped to the run would
//! count too, making the points depend on the scheduler. A checked await
//! that no observer watches pays one task-local lookup, with the feature
//! on. Without it, [`ReachReport`] is zero-sized and does nothing: `Run` is
//! what it would be without this module.

#[cfg(feature = "testing")]
pub(crate) use observed::ReachReport;
#[cfg(feature = "testing")]
pub use observed::{observe, reached, Event, Reached};
#[cfg(not(feature = "testing"))]
pub(crate) use unobserved::ReachReport;

#[cfg(feature = "testing")]
mod observed {
    use std::cell::RefCell;
    use std::future::{poll_fn, Future};
    use std::panic::Location;
    use std::pin::pin;
    use std::rc::Rc;

    /// A checked await, reached: it is about to look at its context.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Reached {
        /// Where the await is.
        pub location: &'static Location<'static>,
        /// The type of the awaited future, as `std::any::type_name` says
        /// it, when the check knows it (a `Run` does).
        pub awaited: Option<&'static str>,
    }

    /// What the observer of [`observe`] hears.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Event {
        /// A checked await is reached; a context cancelled now is seen by
        /// it.
        Reached(Reached),
        /// The observed future returned `Pending`: it waits, at the last
        /// await reached or further on; a context cancelled now wakes the
        /// checks racing it.
        Suspended,
    }

    type Observer = Rc<RefCell<dyn FnMut(Event)>>;

    tokio::task_local! {
        static OBSERVER: Observer;
    }

    /// Runs `fut`, telling `observer` each checked await `fut` reaches
    /// (those polled as part of it, in its task) and each time it is
    /// suspended.
    pub async fn observe<F: Future>(observer: impl FnMut(Event) + 'static, fut: F) -> F::Output {
        let observer: Observer = Rc::new(RefCell::new(observer));
        let mut fut = pin!(OBSERVER.scope(observer.clone(), fut));
        poll_fn(|cx| {
            let poll = fut.as_mut().poll(cx);
            if poll.is_pending() {
                tell(&observer, Event::Suspended);
            }
            poll
        })
        .await
    }

    /// Reports a checked await that is not a `Run` (`#[ctx_fn]`'s), at the
    /// caller's location, to the current task's observer, if any.
    #[track_caller]
    pub fn reached() {
        report(Reached {
            location: Location::caller(),
            awaited: None,
        });
    }

    fn report(reached: Reached) {
        // Outside `observe`, nobody listens.
        let _unobserved = OBSERVER.try_with(|observer| tell(observer, Event::Reached(reached)));
    }

    fn tell(observer: &Observer, event: Event) {
        // An await reached during the observer's own call (the cancel it
        // makes runs after-funcs, which might block on one) finds it
        // borrowed, and is not reported rather than panicking.
        if let Ok(mut observer) = observer.try_borrow_mut() {
            observer(event);
        }
    }

    /// The report a `Run` makes of its await being reached, sent at its
    /// first poll.
    pub(crate) struct ReachReport {
        unreported: Option<&'static str>,
    }

    impl ReachReport {
        /// The report of an await of `awaited` (a future's type name).
        pub(crate) fn new(awaited: &'static str) -> ReachReport {
            ReachReport {
                unreported: Some(awaited),
            }
        }

        /// Reports the await reached, at `location`, to the current task's
        /// observer, on the first call only.
        pub(crate) fn reached(&mut self, location: &'static Location<'static>) {
            if let Some(awaited) = self.unreported.take() {
                report(Reached {
                    location,
                    awaited: Some(awaited),
                });
            }
        }
    }
}

#[cfg(not(feature = "testing"))]
mod unobserved {
    /// Without the `testing` feature, nothing: zero-sized, and its methods
    /// compile to nothing.
    pub(crate) struct ReachReport;

    impl ReachReport {
        #[inline(always)]
        pub(crate) fn new(_awaited: &'static str) -> ReachReport {
            ReachReport
        }

        #[inline(always)]
        pub(crate) fn reached(&mut self, _location: &'static std::panic::Location<'static>) {}
    }
}
