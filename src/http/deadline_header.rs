//! The headers that carry a deadline budget between services, and which of
//! them a layer reads or writes.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::grpc_timeout::{
    format_grpc_timeout, parse_grpc_timeout, GrpcTimeoutError, GRPC_TIMEOUT,
};
use super::timeout_ms::{format_timeout_ms, parse_timeout_ms, TimeoutMsError};

/// The `Connect-Timeout-Ms` header of the Connect protocol.
///
/// ```
/// assert_eq!(ctx::http::CONNECT_TIMEOUT_MS.as_str(), "connect-timeout-ms");
/// ```
pub const CONNECT_TIMEOUT_MS: HeaderName = HeaderName::from_static("connect-timeout-ms");

/// The `x-envoy-expected-rq-timeout-ms` header Envoy sets on the requests it
/// forwards.
///
/// ```
/// assert_eq!(ctx::http::ENVOY_EXPECTED_RQ_TIMEOUT_MS.as_str(), "x-envoy-expected-rq-timeout-ms");
/// ```
pub const ENVOY_EXPECTED_RQ_TIMEOUT_MS: HeaderName =
    HeaderName::from_static("x-envoy-expected-rq-timeout-ms");

/// Declares [`DeadlineHeader`] from its one list of headers: each entry is
/// a variant, the header's name, and the syntax of its values
/// ([`ValueSyntax`]). The enum, [`DeadlineHeader::ALL`], its names and the
/// layers' sets of headers all derive from that list.
macro_rules! deadline_headers {
    ($($(#[$doc:meta])* $variant:ident => $name:expr, $syntax:ident;)+) => {
        /// A header that carries the time a caller gives a request: the
        /// [`ContextLayer`](super::ContextLayer) turns the ones it honours
        /// into the request context's deadline, and the client layer writes
        /// the ones it is told to.
        ///
        /// ```
        /// use std::time::Duration;
        /// use ctx::http::DeadlineHeader;
        ///
        /// for header in DeadlineHeader::ALL {
        ///     let value = header.format(Duration::from_millis(250));
        ///     assert_eq!(header.parse(value.as_bytes()), Ok(Duration::from_millis(250)));
        /// }
        /// assert_eq!(DeadlineHeader::ConnectTimeoutMs.format(Duration::from_millis(250)), "250");
        /// ```
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DeadlineHeader {
            $($(#[$doc])* $variant,)+
        }

        impl DeadlineHeader {
            /// Every deadline header, in the order of this enum.
            ///
            /// ```
            /// use ctx::http::DeadlineHeader;
            ///
            /// assert!(DeadlineHeader::ALL.contains(&DeadlineHeader::GrpcTimeout));
            /// ```
            pub const ALL: [DeadlineHeader; [$(DeadlineHeader::$variant),+].len()] =
                [$(DeadlineHeader::$variant),+];

            /// The header's name.
            ///
            /// ```
            /// use ctx::http::DeadlineHeader;
            ///
            /// assert_eq!(DeadlineHeader::GrpcTimeout.name(), "grpc-timeout");
            /// ```
            pub const fn name(self) -> HeaderName {
                match self {
                    $(DeadlineHeader::$variant => $name,)+
                }
            }

            /// The syntax of the header's values.
            const fn syntax(self) -> ValueSyntax {
                match self {
                    $(DeadlineHeader::$variant => ValueSyntax::$syntax,)+
                }
            }
        }
    };
}

deadline_headers! {
    /// gRPC's `grpc-timeout` (`250m`): see
    /// [`parse_grpc_timeout`](super::parse_grpc_timeout).
    GrpcTimeout => GRPC_TIMEOUT, GrpcTimeout;
    /// Connect's `Connect-Timeout-Ms` (`250`): see
    /// [`parse_timeout_ms`](super::parse_timeout_ms).
    ConnectTimeoutMs => CONNECT_TIMEOUT_MS, Millis;
    /// Envoy's `x-envoy-expected-rq-timeout-ms` (`250`), the route's
    /// timeout as Envoy forwards it.
    EnvoyExpectedRqTimeoutMs => ENVOY_EXPECTED_RQ_TIMEOUT_MS, Millis;
}

/// How a deadline header writes a budget.
#[derive(Clone, Copy)]
enum ValueSyntax {
    /// gRPC's digits and a unit letter (`250m`).
    GrpcTimeout,
    /// A count of milliseconds (`250`).
    Millis,
}

impl DeadlineHeader {
    /// Parses a value of this header into a budget.
    ///
    /// # Errors
    ///
    /// A malformed value, with an explanation naming the header.
    ///
    /// ```
    /// use ctx::http::DeadlineHeader;
    ///
    /// let error = DeadlineHeader::ConnectTimeoutMs.parse("1.5").unwrap_err();
    /// assert!(error.to_string().starts_with("malformed connect-timeout-ms: "));
    /// ```
    pub fn parse(self, value: impl AsRef<[u8]>) -> Result<Duration, DeadlineHeaderError> {
        match self.syntax() {
            ValueSyntax::GrpcTimeout => {
                parse_grpc_timeout(value).map_err(DeadlineHeaderError::GrpcTimeout)
            }
            ValueSyntax::Millis => {
                parse_timeout_ms(value).map_err(|error| DeadlineHeaderError::Millis {
                    header: self,
                    error,
                })
            }
        }
    }

    /// A value of this header for `budget`, rounded up to the header's unit.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ctx::http::DeadlineHeader;
    ///
    /// assert_eq!(DeadlineHeader::GrpcTimeout.format(Duration::from_millis(250)), "250000u");
    /// ```
    pub fn format(self, budget: Duration) -> HeaderValue {
        let text = match self.syntax() {
            ValueSyntax::GrpcTimeout => format_grpc_timeout(budget),
            ValueSyntax::Millis => format_timeout_ms(budget),
        };
        HeaderValue::try_from(text).expect("digits and a unit letter are a valid header value")
    }
}

impl fmt::Display for DeadlineHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name().as_str())
    }
}

/// Why a deadline header's value was rejected. Its `Display` is the
/// explanation the [`ContextLayer`](super::ContextLayer) sends back in its
/// `400 Bad Request` body.
///
/// ```
/// use ctx::http::{DeadlineHeader, DeadlineHeaderError, TimeoutMsError};
///
/// let error = DeadlineHeader::EnvoyExpectedRqTimeoutMs.parse("").unwrap_err();
/// assert_eq!(
///     error,
///     DeadlineHeaderError::Millis { header: DeadlineHeader::EnvoyExpectedRqTimeoutMs, error: TimeoutMsError::Empty }
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadlineHeaderError {
    /// A malformed `grpc-timeout`.
    GrpcTimeout(GrpcTimeoutError),
    /// A malformed millisecond header.
    Millis {
        /// Which header.
        header: DeadlineHeader,
        /// What is wrong with its value.
        error: TimeoutMsError,
    },
}

impl fmt::Display for DeadlineHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeadlineHeaderError::GrpcTimeout(error) => error.fmt(f),
            DeadlineHeaderError::Millis { header, error } => {
                write!(f, "malformed {header}: {error}")
            }
        }
    }
}

impl std::error::Error for DeadlineHeaderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DeadlineHeaderError::GrpcTimeout(error) => Some(error),
            DeadlineHeaderError::Millis { error, .. } => Some(error),
        }
    }
}

/// The value of each deadline header a request carries (its first), at the
/// header's place in [`DeadlineHeader::ALL`], gathered by
/// [`note`](DeadlineValues::note) as a request's headers are read once.
#[derive(Default)]
pub(crate) struct DeadlineValues<'h>([Option<&'h HeaderValue>; DeadlineHeader::ALL.len()]);

impl<'h> DeadlineValues<'h> {
    /// Keeps `value` if `name` is a deadline header not met before;
    /// whether it is a deadline header.
    pub(crate) fn note(&mut self, name: &HeaderName, value: &'h HeaderValue) -> bool {
        let Some(header) = DeadlineHeader::ALL
            .into_iter()
            .find(|header| *name == header.name())
        else {
            return false;
        };
        self.0[header as usize].get_or_insert(value);
        true
    }
}

/// A set of [`DeadlineHeader`]s: which ones a layer reads or writes. A
/// bit per header, at the header's place in [`DeadlineHeader::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HeaderSet(u8);

// A bit per header fits in the set's `u8`.
const _: () = assert!(DeadlineHeader::ALL.len() <= u8::BITS as usize);

impl HeaderSet {
    /// Every header of [`DeadlineHeader::ALL`].
    pub(crate) const ALL: HeaderSet =
        HeaderSet(u8::MAX >> (u8::BITS as usize - DeadlineHeader::ALL.len()));
    /// `grpc-timeout` alone.
    pub(crate) const GRPC_TIMEOUT: HeaderSet = HeaderSet(Self::bit(DeadlineHeader::GrpcTimeout));

    /// The header's bit: its place in [`DeadlineHeader::ALL`], which lists
    /// the variants in their order.
    const fn bit(header: DeadlineHeader) -> u8 {
        1 << header as u8
    }

    pub(crate) fn set(self, header: DeadlineHeader, on: bool) -> HeaderSet {
        if on {
            HeaderSet(self.0 | Self::bit(header))
        } else {
            HeaderSet(self.0 & !Self::bit(header))
        }
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = DeadlineHeader> {
        DeadlineHeader::ALL
            .into_iter()
            .filter(move |&header| self.0 & Self::bit(header) != 0)
    }

    /// The tightest budget the headers of this set give in `values`:
    /// each is a caller saying when it gives up, so the earliest wins.
    pub(crate) fn read(
        self,
        values: &DeadlineValues<'_>,
    ) -> Result<Option<Duration>, DeadlineHeaderError> {
        let mut tightest: Option<Duration> = None;
        for header in self.iter() {
            if let Some(value) = values.0[header as usize] {
                let budget = header.parse(value.as_bytes())?;
                tightest = Some(tightest.map_or(budget, |t| t.min(budget)));
            }
        }
        Ok(tightest)
    }

    /// Writes `budget` into `headers` as every header of this set.
    pub(crate) fn write(self, headers: &mut HeaderMap, budget: Duration) {
        for header in self.iter() {
            headers.insert(header.name(), header.format(budget));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The deadline headers `headers` carries.
    fn carried(headers: &HeaderMap) -> DeadlineValues<'_> {
        let mut values = DeadlineValues::default();
        for (name, value) in headers {
            values.note(name, value);
        }
        values
    }

    #[test]
    fn every_header_has_its_own_bit_in_the_full_set() {
        for (place, header) in DeadlineHeader::ALL.into_iter().enumerate() {
            assert_eq!(header as usize, place, "{header}");
            assert_ne!(HeaderSet::ALL.0 & HeaderSet::bit(header), 0, "{header}");
        }
        assert_eq!(HeaderSet::ALL.iter().count(), DeadlineHeader::ALL.len());
    }

    #[test]
    fn the_tightest_honoured_header_wins() {
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_TIMEOUT, HeaderValue::from_static("3S"));
        headers.insert(CONNECT_TIMEOUT_MS, HeaderValue::from_static("2000"));
        headers.insert(
            ENVOY_EXPECTED_RQ_TIMEOUT_MS,
            HeaderValue::from_static("1000"),
        );
        assert_eq!(
            HeaderSet::ALL.read(&carried(&headers)),
            Ok(Some(Duration::from_secs(1)))
        );
        let without_envoy = HeaderSet::ALL.set(DeadlineHeader::EnvoyExpectedRqTimeoutMs, false);
        assert_eq!(
            without_envoy.read(&carried(&headers)),
            Ok(Some(Duration::from_secs(2)))
        );
        assert_eq!(
            HeaderSet::GRPC_TIMEOUT.read(&carried(&headers)),
            Ok(Some(Duration::from_secs(3)))
        );
        assert_eq!(HeaderSet(0).read(&carried(&headers)), Ok(None));
    }

    #[test]
    fn a_malformed_honoured_header_is_an_error_an_ignored_one_is_not() {
        let mut headers = HeaderMap::new();
        headers.insert(CONNECT_TIMEOUT_MS, HeaderValue::from_static("soon"));
        assert_eq!(
            HeaderSet::ALL.read(&carried(&headers)),
            Err(DeadlineHeaderError::Millis {
                header: DeadlineHeader::ConnectTimeoutMs,
                error: TimeoutMsError::NotADigit
            })
        );
        assert_eq!(HeaderSet::GRPC_TIMEOUT.read(&carried(&headers)), Ok(None));
    }

    #[test]
    fn write_sets_exactly_the_chosen_headers() {
        let mut headers = HeaderMap::new();
        HeaderSet::GRPC_TIMEOUT
            .set(DeadlineHeader::ConnectTimeoutMs, true)
            .write(&mut headers, Duration::from_millis(250));
        assert_eq!(headers[GRPC_TIMEOUT], "250000u");
        assert_eq!(headers[CONNECT_TIMEOUT_MS], "250");
        assert!(!headers.contains_key(ENVOY_EXPECTED_RQ_TIMEOUT_MS));
    }
}
