//! The `grpc-timeout` header: how a deadline crosses a process boundary.
//!
//! The format is gRPC's (`TimeoutValue TimeoutUnit`): one to eight ASCII
//! digits followed by one unit letter, `H` hours, `M` minutes, `S` seconds,
//! `m` milliseconds, `u` microseconds, `n` nanoseconds. Plain HTTP services
//! use it too (it is how Envoy and many meshes carry budgets), so a deadline
//! set at the edge reaches every service behind it.

use std::fmt;
use std::time::Duration;

use http::HeaderName;

/// The header's name, `grpc-timeout`.
///
/// ```
/// assert_eq!(ctx::http::GRPC_TIMEOUT.as_str(), "grpc-timeout");
/// ```
pub const GRPC_TIMEOUT: HeaderName = HeaderName::from_static("grpc-timeout");

/// The most digits a `grpc-timeout` value may have (gRPC's limit).
const MAX_DIGITS: usize = 8;

/// Parses a `grpc-timeout` value such as `"250m"` into a duration.
///
/// Strict and bounded: one to eight ASCII digits and one unit letter,
/// nothing else (no sign, no spaces, no fractions). The largest value,
/// `99999999H`, is about 11,000 years, so the result never overflows; a
/// server should still cap it (the [`ContextLayer`](super::ContextLayer)
/// does, with [`max_timeout`](super::ContextLayer::max_timeout)).
///
/// ```
/// use std::time::Duration;
/// use ctx::http::parse_grpc_timeout;
///
/// assert_eq!(parse_grpc_timeout("250m"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_grpc_timeout("3S"), Ok(Duration::from_secs(3)));
/// assert!(parse_grpc_timeout("1.5S").is_err());
/// assert!(parse_grpc_timeout("123456789n").is_err(), "more than 8 digits");
/// ```
pub fn parse_grpc_timeout(value: impl AsRef<[u8]>) -> Result<Duration, GrpcTimeoutError> {
    let bytes = value.as_ref();
    let Some((&unit, digits)) = bytes.split_last() else {
        return Err(GrpcTimeoutError::Empty);
    };
    let size_of_unit = match unit {
        b'H' => 3_600_000_000_000,
        b'M' => 60_000_000_000,
        b'S' => 1_000_000_000,
        b'm' => 1_000_000,
        b'u' => 1_000,
        b'n' => 1,
        _ => return Err(GrpcTimeoutError::BadUnit),
    };
    if digits.is_empty() {
        return Err(GrpcTimeoutError::NoDigits);
    }
    if digits.len() > MAX_DIGITS {
        return Err(GrpcTimeoutError::TooManyDigits);
    }
    let amount = parse_decimal(digits).ok_or(GrpcTimeoutError::NotADigit)?;
    // At most 99_999_999 hours: about 3.6e20 ns, which fits in a u128.
    let nanos = u128::from(amount) * size_of_unit;
    let secs = u64::try_from(nanos / 1_000_000_000).expect("at most 3.6e11 seconds");
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

/// The value of a run of ASCII digits, `None` if anything else is in it.
/// Callers bound its length first: 19 digits always fit in a `u64`.
pub(super) fn parse_decimal(digits: &[u8]) -> Option<u64> {
    digits.iter().try_fold(0u64, |amount, &digit| {
        digit
            .is_ascii_digit()
            .then(|| amount * 10 + u64::from(digit - b'0'))
    })
}

/// Formats a duration as a `grpc-timeout` value, in the finest unit whose
/// value fits in eight digits, rounded up (as gRPC does) so that a budget
/// is never shortened by more than that unit nor reported as zero while
/// time is left. A duration longer than `99999999H` is capped there.
///
/// ```
/// use std::time::Duration;
/// use ctx::http::{format_grpc_timeout, parse_grpc_timeout};
///
/// assert_eq!(format_grpc_timeout(Duration::from_millis(25)), "25000000n");
/// assert_eq!(format_grpc_timeout(Duration::from_millis(250)), "250000u");
/// assert_eq!(format_grpc_timeout(Duration::from_secs(30)), "30000000u");
/// assert_eq!(format_grpc_timeout(Duration::from_secs(3600)), "3600000m");
/// let budget = Duration::from_millis(1234);
/// assert_eq!(parse_grpc_timeout(format_grpc_timeout(budget)), Ok(budget));
/// ```
pub fn format_grpc_timeout(timeout: Duration) -> String {
    const LIMIT: u128 = 100_000_000;
    let nanos = timeout.as_nanos();
    let units: [(u128, char); 6] = [
        (1, 'n'),
        (1_000, 'u'),
        (1_000_000, 'm'),
        (1_000_000_000, 'S'),
        (60_000_000_000, 'M'),
        (3_600_000_000_000, 'H'),
    ];
    for (size, unit) in units {
        let amount = nanos.div_ceil(size);
        if amount < LIMIT {
            return format!("{amount}{unit}");
        }
    }
    "99999999H".to_owned()
}

/// Why a `grpc-timeout` value was rejected.
///
/// Its `Display` is the explanation the [`ContextLayer`](super::ContextLayer)
/// sends back in its `400 Bad Request` body.
///
/// ```
/// use ctx::http::{parse_grpc_timeout, GrpcTimeoutError};
///
/// assert_eq!(parse_grpc_timeout("10x"), Err(GrpcTimeoutError::BadUnit));
/// assert!(GrpcTimeoutError::BadUnit.to_string().contains("unit"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GrpcTimeoutError {
    /// The value is empty.
    Empty,
    /// There is a unit but no digits before it.
    NoDigits,
    /// More than eight digits.
    TooManyDigits,
    /// Something other than an ASCII digit before the unit.
    NotADigit,
    /// The last character is not one of `H`, `M`, `S`, `m`, `u`, `n`.
    BadUnit,
}

impl fmt::Display for GrpcTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let problem = match self {
            GrpcTimeoutError::Empty => "the value is empty",
            GrpcTimeoutError::NoDigits => "there are no digits before the unit",
            GrpcTimeoutError::TooManyDigits => "there are more than 8 digits",
            GrpcTimeoutError::NotADigit => "only ASCII digits may precede the unit",
            GrpcTimeoutError::BadUnit => "the unit must be one of H, M, S, m, u, n",
        };
        write!(
            f,
            "malformed grpc-timeout: {problem} (expected 1 to 8 digits and a unit, e.g. \"250m\")"
        )
    }
}

impl std::error::Error for GrpcTimeoutError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse_grpc_timeout("2H"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_grpc_timeout("2M"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_grpc_timeout("2S"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("2m"), Ok(Duration::from_millis(2)));
        assert_eq!(parse_grpc_timeout("2u"), Ok(Duration::from_micros(2)));
        assert_eq!(parse_grpc_timeout("2n"), Ok(Duration::from_nanos(2)));
        assert_eq!(parse_grpc_timeout("0n"), Ok(Duration::ZERO));
        assert_eq!(parse_grpc_timeout("00000001S"), Ok(Duration::from_secs(1)));
    }

    #[test]
    fn the_largest_value_does_not_overflow() {
        assert_eq!(
            parse_grpc_timeout("99999999H"),
            Ok(Duration::from_secs(99_999_999 * 3600))
        );
    }

    #[test]
    fn rejects_malformed_values() {
        use GrpcTimeoutError::*;
        for (value, error) in [
            ("", Empty),
            ("S", NoDigits),
            ("123456789S", TooManyDigits),
            ("-1S", NotADigit),
            ("+1S", NotADigit),
            (" 1S", NotADigit),
            ("1 S", NotADigit),
            ("1.5S", NotADigit),
            ("١S", NotADigit), // a non-ASCII digit
            ("10", BadUnit),
            ("10s", BadUnit),
            ("10ms", BadUnit),
        ] {
            assert_eq!(parse_grpc_timeout(value), Err(error), "{value:?}");
        }
    }

    #[test]
    fn formats_round_up_and_round_trip() {
        assert_eq!(format_grpc_timeout(Duration::ZERO), "0n");
        assert_eq!(
            format_grpc_timeout(Duration::from_nanos(99_999_999)),
            "99999999n"
        );
        assert_eq!(
            format_grpc_timeout(Duration::from_nanos(100_000_001)),
            "100001u"
        );
        assert_eq!(format_grpc_timeout(Duration::MAX), "99999999H");
        for millis in [1, 7, 999, 1_000, 86_400_000] {
            let d = Duration::from_millis(millis);
            let back = parse_grpc_timeout(format_grpc_timeout(d)).unwrap();
            assert!(back >= d && back - d < Duration::from_millis(1), "{millis}");
        }
    }
}
