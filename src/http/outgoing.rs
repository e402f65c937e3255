//! The budget of an outgoing call: what `inject`, `DeadlineLayer` and the
//! reqwest extension and middleware all compute, in one place.

use std::time::Duration;

use http::HeaderMap;

use super::deadline_header::HeaderSet;
use super::ids::{TraceId, TRACEPARENT};
use crate::{Context, Error, Instant};

/// How an outgoing call is given its share of the caller's budget: the
/// caller's remaining time minus `reserve`, refused below `min_budget`,
/// written as `headers`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Outgoing {
    pub(crate) reserve: Duration,
    pub(crate) min_budget: Duration,
    pub(crate) headers: HeaderSet,
}

/// Why an outgoing call was not sent.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refused {
    /// The caller's context was done (or its deadline past).
    CallerDone,
    /// The budget left after the reserve is below the minimum (what it
    /// was is reported by the client layer; `inject` only says no).
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    BelowMinimum {
        budget: Duration,
        min_budget: Duration,
    },
}

/// When the call must end (the caller's deadline minus the reserve) and
/// the budget written on it.
pub(crate) type CallEnd = Option<(Instant, Duration)>;

impl Outgoing {
    /// 10 ms, enough to answer a caller on a local network.
    pub(crate) const DEFAULT_RESERVE: Duration = Duration::from_millis(10);

    /// 1 ms, below which no call over a network completes.
    pub(crate) const DEFAULT_MIN_BUDGET: Duration = Duration::from_millis(1);

    /// The default reserve and minimum, the budget sent as `grpc-timeout`.
    pub(crate) const DEFAULT: Outgoing = Outgoing {
        reserve: Self::DEFAULT_RESERVE,
        min_budget: Self::DEFAULT_MIN_BUDGET,
        headers: HeaderSet::GRPC_TIMEOUT,
    };

    /// Writes the budget and trace of `ctx` into `headers`, returning when
    /// the call ends and the budget written (`None` for a context without
    /// a deadline: nothing is written but the trace).
    ///
    /// # Errors
    ///
    /// `ctx`'s error when it is done or its deadline has passed, and
    /// `DeadlineExceeded` when the budget is below the minimum: the call is
    /// not worth sending.
    pub(crate) fn prepare(
        &self,
        ctx: &Context<'_>,
        headers: &mut HeaderMap,
    ) -> Result<CallEnd, (Error, Refused)> {
        if let Some(error) = ctx.err() {
            return Err((error, Refused::CallerDone));
        }
        let end = match ctx.deadline().zip(ctx.remaining()) {
            None => None,
            Some((deadline, left)) => {
                if left.is_zero() {
                    return Err((Error::DeadlineExceeded, Refused::CallerDone));
                }
                let budget = left.saturating_sub(self.reserve);
                if budget.is_zero() || budget < self.min_budget {
                    let refused = Refused::BelowMinimum {
                        budget,
                        min_budget: self.min_budget,
                    };
                    return Err((Error::DeadlineExceeded, refused));
                }
                self.headers.write(headers, budget);
                Some((deadline - self.reserve, budget))
            }
        };
        if let Some(trace_id) = ctx.value::<TraceId>() {
            headers.insert(TRACEPARENT, trace_id.to_traceparent());
        }
        Ok(end)
    }
}
