//! Budgets written as a plain count of milliseconds: the value format of
//! Connect's `Connect-Timeout-Ms` and Envoy's
//! `x-envoy-expected-rq-timeout-ms`.
//!
//! Connect's protocol allows at most 10 digits; Envoy's header is the same
//! number, so both are read by one strict parser.

use std::fmt;
use std::time::Duration;

use super::grpc_timeout::parse_decimal;

/// The most digits a millisecond value may have (Connect's limit: about
/// 115 days).
const MAX_DIGITS: usize = 10;

/// Parses a millisecond budget such as `"250"`.
///
/// Strict and bounded: one to ten ASCII digits, nothing else (no sign, no
/// spaces, no unit). `"0"` is a budget already spent. A server should still
/// cap the result (the [`ContextLayer`](super::ContextLayer) does, with
/// [`max_timeout`](super::ContextLayer::max_timeout)).
///
/// ```
/// use std::time::Duration;
/// use ctx::http::{parse_timeout_ms, TimeoutMsError};
///
/// assert_eq!(parse_timeout_ms("250"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_timeout_ms("250ms"), Err(TimeoutMsError::NotADigit));
/// assert_eq!(parse_timeout_ms("12345678901"), Err(TimeoutMsError::TooManyDigits));
/// ```
pub fn parse_timeout_ms(value: impl AsRef<[u8]>) -> Result<Duration, TimeoutMsError> {
    let digits = value.as_ref();
    if digits.is_empty() {
        return Err(TimeoutMsError::Empty);
    }
    if digits.len() > MAX_DIGITS {
        return Err(TimeoutMsError::TooManyDigits);
    }
    let millis = parse_decimal(digits).ok_or(TimeoutMsError::NotADigit)?;
    Ok(Duration::from_millis(millis))
}

/// Formats a budget as whole milliseconds, rounded up (as
/// [`format_grpc_timeout`](super::format_grpc_timeout) does) so that time
/// left is never reported as zero; capped at ten digits.
///
/// ```
/// use std::time::Duration;
/// use ctx::http::format_timeout_ms;
///
/// assert_eq!(format_timeout_ms(Duration::from_millis(250)), "250");
/// assert_eq!(format_timeout_ms(Duration::from_micros(1)), "1");
/// assert_eq!(format_timeout_ms(Duration::MAX), "9999999999");
/// ```
pub fn format_timeout_ms(timeout: Duration) -> String {
    const LARGEST: u128 = 9_999_999_999;
    let millis = timeout.as_nanos().div_ceil(1_000_000).min(LARGEST);
    millis.to_string()
}

/// Why a millisecond budget was rejected.
///
/// ```
/// use ctx::http::{parse_timeout_ms, TimeoutMsError};
///
/// assert_eq!(parse_timeout_ms(""), Err(TimeoutMsError::Empty));
/// assert!(TimeoutMsError::NotADigit.to_string().contains("digits"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutMsError {
    /// The value is empty.
    Empty,
    /// More than ten digits.
    TooManyDigits,
    /// Something other than an ASCII digit.
    NotADigit,
}

impl fmt::Display for TimeoutMsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = match self {
            TimeoutMsError::Empty => "the value is empty",
            TimeoutMsError::TooManyDigits => "there are more than 10 digits",
            TimeoutMsError::NotADigit => "only ASCII digits are allowed",
        };
        write!(
            f,
            "{problem} (expected 1 to 10 digits of milliseconds, e.g. \"250\")"
        )
    }
}

impl std::error::Error for TimeoutMsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bounds() {
        assert_eq!(parse_timeout_ms("0"), Ok(Duration::ZERO));
        assert_eq!(parse_timeout_ms("0000000001"), Ok(Duration::from_millis(1)));
        assert_eq!(
            parse_timeout_ms("9999999999"),
            Ok(Duration::from_millis(9_999_999_999))
        );
    }

    #[test]
    fn rejects_malformed_values() {
        use TimeoutMsError::*;
        for (value, error) in [
            ("", Empty),
            ("12345678901", TooManyDigits),
            ("-1", NotADigit),
            ("+1", NotADigit),
            (" 1", NotADigit),
            ("1.5", NotADigit),
            ("1s", NotADigit),
            ("١", NotADigit), // a non-ASCII digit
        ] {
            assert_eq!(parse_timeout_ms(value), Err(error), "{value:?}");
        }
    }

    #[test]
    fn formats_round_up_and_round_trip() {
        assert_eq!(format_timeout_ms(Duration::ZERO), "0");
        assert_eq!(format_timeout_ms(Duration::from_nanos(1_000_001)), "2");
        for millis in [1, 7, 999, 86_400_000] {
            let d = Duration::from_millis(millis);
            assert_eq!(parse_timeout_ms(format_timeout_ms(d)), Ok(d));
        }
    }
}
