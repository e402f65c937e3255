//! The server side of a budget: which deadline headers the
//! [`ContextLayer`](super::ContextLayer) honours, the cap it puts on them,
//! the budget of a request without one, and the `400 Bad Request` a
//! malformed one gets.

use std::time::Duration;

use axum::body::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use super::deadline_header::{DeadlineHeader, DeadlineHeaderError, DeadlineValues, HeaderSet};

/// What a [`ContextLayer`](super::ContextLayer) makes of an incoming
/// request's deadline headers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IncomingDeadline {
    honoured: HeaderSet,
    /// The cap on an incoming budget.
    max: Duration,
    /// The budget of a request without one.
    default: Option<Duration>,
}

impl IncomingDeadline {
    pub(crate) const DEFAULT_MAX: Duration = Duration::from_secs(300);

    /// Every deadline header honoured, capped at [`Self::DEFAULT_MAX`], no
    /// default.
    pub(crate) const fn new() -> IncomingDeadline {
        IncomingDeadline {
            honoured: HeaderSet::ALL,
            max: Self::DEFAULT_MAX,
            default: None,
        }
    }

    pub(crate) fn honour(self, header: DeadlineHeader, on: bool) -> IncomingDeadline {
        IncomingDeadline {
            honoured: self.honoured.set(header, on),
            ..self
        }
    }

    pub(crate) fn max(self, max: Duration) -> IncomingDeadline {
        IncomingDeadline { max, ..self }
    }

    pub(crate) fn default(self, default: Duration) -> IncomingDeadline {
        IncomingDeadline {
            default: Some(default),
            ..self
        }
    }

    /// The request's budget: the tightest honoured header of those it
    /// carries, capped, else the default.
    pub(crate) fn of(
        &self,
        carried: &DeadlineValues<'_>,
    ) -> Result<Option<Duration>, DeadlineHeaderError> {
        let sent = self.honoured.read(carried)?;
        Ok(sent.map(|budget| budget.min(self.max)).or(self.default))
    }
}

/// The answer to a malformed deadline header: `400 Bad Request` with a
/// plain-text body that says what is wrong.
pub(crate) fn bad_request(error: &DeadlineHeaderError) -> Response<Bytes> {
    let mut response = Response::new(Bytes::from(format!("{error}\n")));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
