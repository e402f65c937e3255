//! The server side of a budget: which deadline headers the
//! [`ContextLayer`](super::ContextLayer) honours, the cap it puts on them,
//! the budget of a request without one, and the `400 Bad Request` a
//! malformed one gets.

use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};

use super::deadline_header::{DeadlineHeader, DeadlineHeaderError, HeaderSet};

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

    /// The request's budget: the tightest honoured header, capped, else
    /// the default.
    pub(crate) fn of(&self, headers: &HeaderMap) -> Result<Option<Duration>, DeadlineHeaderError> {
        let sent = self.honoured.read(headers)?;
        Ok(sent.map(|budget| budget.min(self.max)).or(self.default))
    }
}

/// The answer to a malformed deadline header: `400 Bad Request` with a
/// plain-text body that says what is wrong.
pub(crate) fn bad_request<B: RejectionBody>(error: &DeadlineHeaderError) -> Response<B> {
    let mut response = Response::new(B::from_message(format!("{error}\n")));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A response body the [`ContextLayer`](super::ContextLayer) can answer a
/// malformed deadline header with: the body type of the service it wraps.
///
/// Implemented for axum's body (what a `Router` answers with), tonic's
/// (feature `tonic`: what a tonic server answers with), http-body-util's
/// `Full<Bytes>` and `String`; implement it for another body type to put
/// the layer around a service that answers with it.
///
/// ```
/// use ctx::http::RejectionBody;
///
/// struct Text(String);
///
/// impl RejectionBody for Text {
///     fn from_message(message: String) -> Text {
///         Text(message)
///     }
/// }
/// assert_eq!(Text::from_message("bad".into()).0, "bad");
/// ```
pub trait RejectionBody {
    /// A body holding `message`.
    fn from_message(message: String) -> Self;
}

/// ```
/// use ctx::http::RejectionBody;
///
/// assert_eq!(String::from_message("bad".into()), "bad");
/// ```
impl RejectionBody for String {
    fn from_message(message: String) -> String {
        message
    }
}

/// ```
/// use ctx::http::RejectionBody;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let body = axum::body::Body::from_message("bad".into());
/// assert_eq!(axum::body::to_bytes(body, 64).await.unwrap(), "bad");
/// # }
/// ```
impl RejectionBody for axum::body::Body {
    fn from_message(message: String) -> axum::body::Body {
        axum::body::Body::from(message)
    }
}

/// ```
/// use axum::body::Bytes;
/// use ctx::http::RejectionBody;
/// use http_body_util::{BodyExt, Full};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let body = Full::<Bytes>::from_message("bad".into());
/// assert_eq!(body.collect().await.unwrap().to_bytes(), "bad");
/// # }
/// ```
impl RejectionBody for http_body_util::Full<axum::body::Bytes> {
    fn from_message(message: String) -> Self {
        http_body_util::Full::from(message)
    }
}

/// ```
/// use ctx::http::RejectionBody;
/// use http_body_util::BodyExt;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let body = tonic::body::Body::from_message("bad".into());
/// assert_eq!(body.collect().await.unwrap().to_bytes(), "bad");
/// # }
/// ```
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
impl RejectionBody for tonic::body::Body {
    fn from_message(message: String) -> tonic::body::Body {
        // http-body implements `Body` for `String`.
        tonic::body::Body::new(message)
    }
}
