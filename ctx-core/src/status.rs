//! How a context's [`Error`] is reported on the wire: the one mapping that
//! servers answering with it and clients reading it back both use.
//!
//! | [`Error`] | HTTP | gRPC |
//! |---|---|---|
//! | [`DeadlineExceeded`](Error::DeadlineExceeded) | `504 Gateway Timeout` | `DEADLINE_EXCEEDED` (4) |
//! | [`Canceled`](Error::Canceled) | `503 Service Unavailable` | `CANCELLED` (1) |
//!
//! gRPC's codes are its spec's. Why 503 rather than nginx's 499 is said on
//! `ctx::Error`'s `IntoResponse`, which answers with this status.

use crate::Error;

impl Error {
    /// The gRPC status code that reports this error:
    /// `DEADLINE_EXCEEDED` (4) for a deadline, `CANCELLED` (1) for a
    /// cancellation, as numbered by the gRPC spec (the `grpc-status`
    /// header's value).
    ///
    /// ```
    /// use ctx::Error;
    ///
    /// assert_eq!(Error::DeadlineExceeded.grpc_code(), 4);
    /// assert_eq!(Error::Canceled.grpc_code(), 1);
    /// ```
    pub const fn grpc_code(&self) -> i32 {
        match self {
            Error::Canceled => 1,
            Error::DeadlineExceeded => 4,
        }
    }

    /// The HTTP status that reports this error (feature `axum`):
    /// `504 Gateway Timeout` for a deadline, `503 Service Unavailable` for
    /// a cancellation. The status of its `IntoResponse`.
    ///
    /// ```
    /// use ctx::Error;
    /// use http::StatusCode;
    ///
    /// assert_eq!(Error::DeadlineExceeded.http_status(), StatusCode::GATEWAY_TIMEOUT);
    /// assert_eq!(Error::Canceled.http_status(), StatusCode::SERVICE_UNAVAILABLE);
    /// ```
    #[cfg(feature = "axum")]
    pub const fn http_status(&self) -> http::StatusCode {
        match self {
            Error::Canceled => http::StatusCode::SERVICE_UNAVAILABLE,
            Error::DeadlineExceeded => http::StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// A context's error as a gRPC status (feature `tonic`), so a tonic
/// handler answers `DEADLINE_EXCEEDED` or `CANCELLED` with `?`:
/// `ctx.run(work).await?`. The message is the error's (Go's wording).
///
/// ```
/// let status = tonic::Status::from(ctx::Error::DeadlineExceeded);
/// assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
/// assert_eq!(status.message(), "context deadline exceeded");
/// ```
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
impl From<Error> for tonic::Status {
    fn from(error: Error) -> tonic::Status {
        tonic::Status::new(tonic::Code::from_i32(error.grpc_code()), error.to_string())
    }
}
