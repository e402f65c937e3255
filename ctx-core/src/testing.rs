//! For tests only, never for production code: what test harnesses hook
//! into and what leak tests count.
//!
//! - Feature `testing`: the cancellation-point hook behind `ctx::testing`
//!   ([`observe`], [`reached`]). Turning it on adds a check to every
//!   checked await; `ctx::testing` is the harness to use.
//! - Feature `test-util`: counters of what the context tree holds
//!   ([`registrations`], [`armed_deadlines`]), to assert that nothing is
//!   left behind. They add items only and change no code path, so a test
//!   build may turn them on and still test the code as shipped.

#[cfg(feature = "testing")]
pub use crate::observe::{observe, reached, Event, Reached};
#[cfg(feature = "test-util")]
pub use counters::{armed_deadlines, registrations};

#[cfg(feature = "test-util")]
mod counters {
    use crate::Context;

    /// How many registrations (attached children, waiting futures,
    /// after-funcs, merges) `ctx`'s nearest cancelable context holds; 0 for
    /// a context that can never be done. A child is attached once
    /// something waits on it or on a descendant.
    ///
    /// ```
    /// use ctx::Context;
    /// use ctx_core::testing::registrations;
    ///
    /// let (parent, _cancel) = Context::background().with_cancel();
    /// let (child, cancel_child) = parent.with_cancel();
    /// assert_eq!(registrations(&parent), 0, "not attached at birth");
    /// let _on_cancel = child.after_func(|| {});
    /// assert_eq!(registrations(&parent), 1, "the child, for its after-func");
    /// cancel_child.cancel();
    /// assert_eq!(registrations(&parent), 0, "a cancelled child leaves its parent");
    /// ```
    pub fn registrations(ctx: &Context<'_>) -> usize {
        ctx.cancel_node().map_or(0, |node| node.registrations())
    }

    /// How many deadlines of live contexts are armed on the current Tokio
    /// runtime's timer; 0 outside a runtime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::Context;
    /// use ctx_core::testing::armed_deadlines;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let (ctx, cancel) = Context::background().with_timeout(Duration::from_secs(60));
    /// assert_eq!(armed_deadlines(), 1);
    /// cancel.cancel();
    /// assert_eq!(armed_deadlines(), 0, "a cancelled context's deadline is disarmed");
    /// # drop(ctx);
    /// # }
    /// ```
    pub fn armed_deadlines() -> usize {
        crate::deadline::armed_on_current_runtime()
    }
}
