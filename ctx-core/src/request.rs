//! What the context tree knows of a request served over HTTP: why a
//! request's context ended ([`RequestEnded`]), where the server keeps it
//! ([`RequestContext`], which only lends it), and the report of work that
//! waited on it after its response was sent.
//!
//! That report is the run-time half of the request scope. The type system
//! keeps a request's context, received as `Context<'_>`, out of work that
//! outlives the request; a user who writes `Context<'static>` by hand for
//! it (an axum handler may) has switched that check off. Work that then
//! waits on the context after the response was sent, or starts waiting
//! afterwards, is the lost publish this crate exists to prevent: its wait
//! ends with [`RequestEnded::Responded`], and that is reported once per
//! place in the source, naming the place and the fix. A request abandoned
//! by its client, a deadline or a shutdown are normal ends and never
//! reported. The report is made where a wait completes with the
//! context's error, so a context that is not cancelled pays nothing for it
//! but the waiting future's record of its caller.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crate::error::Error;
use crate::handle::CancelHandle;
use crate::node::CancelNode;
use crate::report::report;
use crate::static_cause::StaticCause;
use crate::Context;

/// Why a request's context was cancelled by the HTTP layer
/// (`ctx::http::ContextLayer`): its [`cause`](Context::cause), which code
/// can downcast to tell a finished request from an abandoned one.
///
/// ```
/// use ctx::http::RequestEnded;
///
/// assert_eq!(RequestEnded::Responded.to_string(), "request finished: its response was sent");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestEnded {
    /// The response is done: its body's last frame was produced (Go:
    /// `ServeHTTP` returned, after the handler wrote the body).
    Responded,
    /// The request was dropped before its response was done: the client
    /// went away (the server drops the handler, or the body it was
    /// sending, when the connection closes) or the server gave up on the
    /// connection.
    Abandoned,
}

impl fmt::Display for RequestEnded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestEnded::Responded => "request finished: its response was sent",
            RequestEnded::Abandoned => {
                "request abandoned: the client went away before the response was complete"
            }
        })
    }
}

impl std::error::Error for RequestEnded {}

/// A request's context as the HTTP layer stores it in the request's
/// extensions: a type of its own, so nobody finds it as a
/// `Context<'static>` there, and one that only lends it, for the borrow of
/// the request. Named by `ctx::http` only.
#[derive(Clone, Debug)]
pub struct RequestContext(Context<'static>);

impl RequestContext {
    /// Keeps `ctx` as a request's context.
    pub fn new(ctx: Context<'static>) -> RequestContext {
        RequestContext(ctx)
    }

    /// The request's context, for as long as this is borrowed.
    pub fn lend(&self) -> Context<'_> {
        self.0.clone()
    }

    /// Puts a context derived from the request's in its place: `derive` is
    /// handed the request's context with a scope it cannot keep, and gives
    /// back a child of it (or any context that may go anywhere).
    pub fn replace_with(&mut self, derive: impl for<'s> FnOnce(Context<'s>) -> Context<'s>) {
        self.0 = derive(self.0.clone());
    }

    /// The context as the axum extractor hands it to a handler: `'static`,
    /// because axum extracts only `'static` types. A handler that writes
    /// its parameter as `Context<'_>` keeps the scope; one that writes
    /// `Context<'static>` is caught at run time instead (see the module).
    #[cfg(feature = "axum")]
    pub(crate) fn extracted(&self) -> Context<'static> {
        self.0.clone()
    }
}

/// What ends a request's context: the HTTP layer derives one context per
/// request ([`derive`](RequestEnd::derive)) and ends it once, saying why
/// ([`end`](RequestEnd::end)). Named by `ctx::http` only.
#[derive(Debug)]
pub struct RequestEnd(CancelHandle);

impl RequestEnd {
    /// A request's context under the server's `root`, with its deadline
    /// `budget` from now if it has one, and what ends it: one node, whose
    /// deadline is its own (the rules of `with_timeout`), so a request
    /// with a deadline costs no second context.
    ///
    /// # Panics
    ///
    /// With a `budget`, when no Tokio runtime with a timer is current, as
    /// [`Context::with_timeout`].
    pub fn derive(
        root: &Context<'static>,
        budget: Option<Duration>,
    ) -> (Context<'static>, RequestEnd) {
        let (ctx, handle) = match budget {
            Some(budget) => root.with_timeout(budget),
            None => root.with_cancel(),
        };
        (ctx, RequestEnd(handle))
    }

    /// Ends the request's context and its descendants with
    /// [`Error::Canceled`] and `why` as their cause, unless it is done
    /// already (its deadline passed, the server shut down). The two causes
    /// are statics shared by every request, which a context records in its
    /// state: ending one allocates nothing, and a context nothing waits on
    /// ends without a lock.
    pub fn end(self, why: RequestEnded) {
        let cause = StaticCause::of_request_end(why).cause();
        self.0.cancel_with(Some(Arc::clone(cause)));
    }
}

/// `ctx` with `first` and `second` as its values, in one value node: what
/// `ctx.with_value(first).with_value(second)` carries, for the ids every
/// request carries, in half the allocations.
pub fn with_values<'a, A, B>(ctx: &Context<'a>, first: A, second: B) -> Context<'a>
where
    A: Send + Sync + 'static,
    B: Send + Sync + 'static,
{
    ctx.with_value_pair(first, second)
}

/// Completes a wait of the future made at `at` on `node`'s context, which
/// ended with `err`: reports it if the context ended because its request
/// had been answered, once per place. Only called on a done context.
///
/// A request's end always gives a cause, so a context cancelled without
/// one (most, and every wait on a deadline) pays one load here, at every
/// wait that completes on it; the rest is out of line.
#[inline]
pub(crate) fn ended_wait(node: &CancelNode, err: Error, at: &'static Location<'static>) -> Error {
    if node.has_explicit_cause() {
        report_if_answered(node, at);
    }
    err
}

/// The report of [`ended_wait`], if `node` ended because its request had
/// been answered and nothing was reported at `at` yet.
#[cold]
#[inline(never)]
fn report_if_answered(node: &CancelNode, at: &'static Location<'static>) {
    let answered = node
        .explicit_cause()
        .is_some_and(|cause| cause.downcast_ref() == Some(&RequestEnded::Responded));
    if answered && first_report_at(at) {
        report(format_args!(
            "work at {at} waited on a request's context after the request was already answered \
             (its response was sent), so it was cancelled: work that must outlive the response \
             takes `ctx.without_cancel()` (or is a `#[detached]` fn); a request's context is \
             `Context<'_>`, never `Context<'static>`"
        ));
    }
}

/// Whether no report was made for `at` yet; records it.
fn first_report_at(at: &'static Location<'static>) -> bool {
    static REPORTED: Mutex<Option<HashSet<&'static Location<'static>>>> = Mutex::new(None);
    REPORTED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert(at)
}

tokio::task_local! {
    /// The caller's context of the client calls made while a
    /// [`with_caller`] future is polled.
    static CALLER: Context<'static>;
}

/// Runs `call` with `ctx` as the caller's context of the client calls it
/// makes (`ctx::http::client`), for clients that build their requests
/// themselves. The context is reachable only while `call` is polled, from
/// the task polling it, and the returned future cannot outlive `ctx`.
pub async fn with_caller<F: Future>(ctx: &Context<'_>, call: F) -> F::Output {
    CALLER.scope(ctx.erase(), call).await
}

/// The caller's context set by [`with_caller`] around the current poll.
pub fn caller() -> Option<Context<'static>> {
    CALLER.try_with(Context::clone).ok()
}
