//! What the client layer fails with, and how an upstream's answer that it
//! ran out of time maps back to [`Error::DeadlineExceeded`].

use std::fmt;
#[cfg(feature = "tonic")]
use std::sync::OnceLock;
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode, Uri};
use percent_encoding::percent_decode;

use crate::{Cause, Error};

/// The `grpc-status` response header (or trailer).
const GRPC_STATUS: &str = "grpc-status";
/// The `grpc-message` response header (or trailer).
const GRPC_MESSAGE: &str = "grpc-message";

/// The error of a [`DeadlineService`](super::DeadlineService) call.
///
/// With the `tonic` feature, a tonic client reports a
/// [`Context`](ClientError::Context) error as the matching `tonic::Status`
/// (`DEADLINE_EXCEEDED` or `CANCELLED`, with this error's message): tonic
/// looks for a status among an error's sources, and [`CallError`] holds
/// one.
///
/// ```
/// use ctx::http::client::ClientError;
///
/// let error: ClientError<std::io::Error> = ClientError::NoContext;
/// assert!(error.context_error().is_none());
/// assert!(error.to_string().contains("with_context"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError<E> {
    /// The call was not sent, was dropped in flight, or came back as a
    /// deadline, because of the caller's context or the upstream's budget.
    Context(CallError),
    /// The request was sent under no context: not with
    /// [`call_with`](super::DeadlineService::call_with), not inside
    /// [`with_context`](super::with_context), and with no root or
    /// `without_cancel` context in its extensions (the request's, or the
    /// middleware extensions of a reqwest-middleware client).
    NoContext,
    /// The wrapped service failed.
    Service(E),
}

impl<E> ClientError<E> {
    /// The context error this stands for, if any: what a handler returns
    /// to its own caller (as 504 / `DEADLINE_EXCEEDED`, or 503 /
    /// `CANCELLED`).
    ///
    /// ```
    /// use ctx::http::client::ClientError;
    ///
    /// let error: ClientError<std::io::Error> = ClientError::Service(std::io::ErrorKind::ConnectionRefused.into());
    /// assert_eq!(error.context_error(), None);
    /// ```
    pub fn context_error(&self) -> Option<Error> {
        match self {
            ClientError::Context(call) => Some(call.error()),
            ClientError::NoContext | ClientError::Service(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for ClientError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Context(call) => call.fmt(f),
            ClientError::NoContext => f.write_str(
                "the request was sent under no context: make the call inside \
                 `ctx::http::client::with_context(&ctx, call)`, send it with \
                 `DeadlineService::call_with(&ctx, request)`, or put a root or \
                 `without_cancel` context in its extensions",
            ),
            ClientError::Service(error) => write!(f, "the call failed: {error}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ClientError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Context(call) => Some(call),
            ClientError::NoContext => None,
            ClientError::Service(error) => Some(error),
        }
    }
}

/// A call that time or cancellation ended: its [`Error`], the hop (the
/// request's method and URI) and why.
///
/// ```
/// use std::time::Duration;
/// use ctx::http::client::{ClientError, DeadlineLayer, CallErrorReason};
/// use ctx::Context;
/// use tower::{service_fn, Layer, Service};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let upstream = service_fn(|_: http::Request<()>| async {
///     Ok::<_, std::io::Error>(http::Response::builder().status(504).body(()).unwrap())
/// });
/// let mut client = DeadlineLayer::new().layer(upstream);
/// let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(1));
/// let request = http::Request::get("http://inventory.internal/stock").body(()).unwrap();
///
/// let Err(ClientError::Context(error)) = client.call_with(&ctx, request).await else { panic!() };
/// assert_eq!(error.error(), ctx::Error::DeadlineExceeded);
/// assert_eq!(error.uri(), "http://inventory.internal/stock");
/// assert!(matches!(error.reason(), CallErrorReason::Upstream { .. }));
/// assert_eq!(
///     error.to_string(),
///     "context deadline exceeded calling GET http://inventory.internal/stock: \
///      the upstream answered 504 Gateway Timeout"
/// );
/// # }
/// ```
#[derive(Debug)]
pub struct CallError {
    error: Error,
    method: Method,
    uri: Uri,
    reason: CallErrorReason,
    /// The same, for tonic's clients (see [`ClientError`]), made when
    /// tonic asks for it.
    #[cfg(feature = "tonic")]
    status: OnceLock<tonic::Status>,
}

/// Why a call ended with a [`CallError`].
///
/// ```
/// use std::time::Duration;
/// use ctx::http::client::CallErrorReason;
///
/// let reason = CallErrorReason::NoAnswerInTime { budget: Duration::from_millis(250) };
/// assert_eq!(reason.to_string(), "no answer within the 250ms budget the upstream was given");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CallErrorReason {
    /// The caller's context was done: before sending (the request was not
    /// sent) or while waiting (the call was dropped).
    CallerDone {
        /// The caller's context's [`cause`](crate::Context::cause).
        cause: Option<Cause>,
        /// Whether the request had been sent.
        sent: bool,
    },
    /// Not sent: the budget left for the upstream, after the hop's reserve,
    /// is below the layer's minimum.
    BudgetBelowMinimum {
        /// What the upstream would have been given.
        budget: Duration,
        /// The layer's [`min_budget`](super::DeadlineLayer::min_budget).
        min_budget: Duration,
    },
    /// Sent, then dropped: the upstream did not answer within the budget it
    /// was given (after which it gives up, and so does the caller).
    NoAnswerInTime {
        /// The budget written on the request.
        budget: Duration,
    },
    /// The upstream answered that it ran out of time: `504 Gateway Timeout`,
    /// or gRPC's `DEADLINE_EXCEEDED` in the response headers.
    Upstream {
        /// The response's HTTP status.
        status: StatusCode,
        /// The response's `grpc-message`, for a gRPC answer.
        grpc_message: Option<String>,
    },
}

impl fmt::Display for CallErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallErrorReason::CallerDone { cause, sent } => {
                f.write_str(if *sent {
                    "the caller's context ended while waiting; the call was dropped"
                } else {
                    "the caller's context was done; not sent"
                })?;
                match cause {
                    Some(cause) => write!(f, " (cause: {cause})"),
                    None => Ok(()),
                }
            }
            CallErrorReason::BudgetBelowMinimum { budget, min_budget } => write!(
                f,
                "{budget:?} left for the upstream, below the minimum of {min_budget:?}; not sent"
            ),
            CallErrorReason::NoAnswerInTime { budget } => write!(
                f,
                "no answer within the {budget:?} budget the upstream was given"
            ),
            CallErrorReason::Upstream {
                status,
                grpc_message: None,
            } => write!(f, "the upstream answered {status}"),
            CallErrorReason::Upstream {
                grpc_message: Some(message),
                ..
            } => write!(
                f,
                "the upstream answered grpc-status {} (DEADLINE_EXCEEDED): {message}",
                Error::DeadlineExceeded.grpc_code()
            ),
        }
    }
}

impl CallError {
    pub(crate) fn new(
        error: Error,
        method: Method,
        uri: Uri,
        reason: CallErrorReason,
    ) -> CallError {
        CallError {
            error,
            method,
            uri,
            reason,
            #[cfg(feature = "tonic")]
            status: OnceLock::new(),
        }
    }

    /// The context error: [`DeadlineExceeded`](Error::DeadlineExceeded)
    /// for every [`CallErrorReason`] but a cancelled caller.
    ///
    /// ```
    /// # use ctx::http::client::CallError;
    /// # fn f(error: CallError) {
    /// if error.error().is_timeout() { /* answer 504 */ }
    /// # }
    /// ```
    pub fn error(&self) -> Error {
        self.error
    }

    /// The method of the request that was (or would have been) sent.
    ///
    /// ```
    /// # use ctx::http::client::CallError;
    /// # fn f(error: CallError) {
    /// println!("{} failed", error.method());
    /// # }
    /// ```
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URI of the request: the hop. (A tonic client's URI holds only
    /// the path, `/package.Service/Method`, unless it was built with an
    /// origin.)
    ///
    /// ```
    /// # use ctx::http::client::CallError;
    /// # fn f(error: CallError) {
    /// println!("calling {} failed", error.uri());
    /// # }
    /// ```
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Why the call ended.
    ///
    /// ```
    /// # use ctx::http::client::{CallError, CallErrorReason};
    /// # fn f(error: CallError) {
    /// let sent = !matches!(error.reason(), CallErrorReason::BudgetBelowMinimum { .. } | CallErrorReason::CallerDone { sent: false, .. });
    /// # }
    /// ```
    pub fn reason(&self) -> &CallErrorReason {
        &self.reason
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} calling {} {}: {}",
            self.error, self.method, self.uri, self.reason
        )
    }
}

impl std::error::Error for CallError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        #[cfg(feature = "tonic")]
        return Some(self.status.get_or_init(|| {
            let code = tonic::Code::from_i32(self.error.grpc_code());
            tonic::Status::new(code, self.to_string())
        }));
        #[cfg(not(feature = "tonic"))]
        None
    }
}

/// [`CallErrorReason::Upstream`] when an upstream's response says it ran out of time:
/// `504 Gateway Timeout`, or `grpc-status: 4` in its headers (a gRPC
/// trailers-only answer, how servers answer an error before any message).
/// A status in trailers, after messages, reaches the gRPC client as usual.
pub(super) fn upstream_deadline(
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<CallErrorReason> {
    let grpc_status = headers
        .get(GRPC_STATUS)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<i32>().ok());
    if grpc_status == Some(Error::DeadlineExceeded.grpc_code()) {
        // gRPC percent-encodes the message.
        let message = headers.get(GRPC_MESSAGE).map(|value| {
            percent_decode(value.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        });
        return Some(CallErrorReason::Upstream {
            status,
            grpc_message: Some(message.unwrap_or_default()),
        });
    }
    (status == Error::DeadlineExceeded.http_status()).then_some(CallErrorReason::Upstream {
        status,
        grpc_message: None,
    })
}
