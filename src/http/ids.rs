//! Request-scoped identifiers the layer puts in every request's context.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use http::{HeaderName, HeaderValue};

/// The W3C trace-context header, `traceparent`, read by the
/// [`ContextLayer`](super::ContextLayer) and written by [`inject`](super::inject).
///
/// ```
/// assert_eq!(ctx::http::TRACEPARENT.as_str(), "traceparent");
/// ```
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The `x-request-id` header, read by the
/// [`ContextLayer`](super::ContextLayer) when present.
///
/// ```
/// assert_eq!(ctx::http::REQUEST_ID.as_str(), "x-request-id");
/// ```
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The trace a request belongs to: a W3C trace id, 16 bytes shown as 32
/// lowercase hex digits.
///
/// The [`ContextLayer`](super::ContextLayer) takes it from an incoming
/// `traceparent` header, or starts a new trace; [`inject`](super::inject)
/// sends it on. Every context derived from the request's, including a
/// detached one (`without_cancel`), carries it.
///
/// ```
/// use ctx::http::TraceId;
///
/// let id = TraceId::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
/// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_ne!(TraceId::generate(), TraceId::generate());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceId(pub u128);

impl TraceId {
    /// A new random trace id (never all zeros, which W3C reserves).
    ///
    /// ```
    /// assert_ne!(ctx::http::TraceId::generate().0, 0);
    /// ```
    pub fn generate() -> TraceId {
        TraceId((u128::from(random_u64()) << 64) | u128::from(nonzero_random_u64()))
    }

    /// The trace id of a `traceparent` header value
    /// (`version-traceid-parentid-flags`), or `None` if it is malformed or
    /// the all-zeros id.
    ///
    /// ```
    /// use ctx::http::TraceId;
    ///
    /// assert!(TraceId::parse_traceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01").is_none());
    /// assert!(TraceId::parse_traceparent("garbage").is_none());
    /// ```
    pub fn parse_traceparent(value: &str) -> Option<TraceId> {
        TraceId::from_traceparent(value.as_bytes())
    }

    /// [`parse_traceparent`](TraceId::parse_traceparent) of a header's
    /// bytes: `version-traceid-parentid-flags` at fixed offsets, 2, 32, 16
    /// and 2 lowercase hex digits; a version other than `00` may have more
    /// fields after its flags, `ff` is invalid. Read by offset rather than
    /// split, because every request with a trace context pays for it.
    pub(crate) fn from_traceparent(value: &[u8]) -> Option<TraceId> {
        const LEN: usize = 55;
        let (fields, rest) = value.split_at_checked(LEN)?;
        if fields[2] != b'-' || fields[35] != b'-' || fields[52] != b'-' {
            return None;
        }
        let version = lower_hex(&fields[0..2])?;
        let more_fields_allowed = version != 0;
        if version == 0xff || !(rest.is_empty() || more_fields_allowed && rest[0] == b'-') {
            return None;
        }
        // The parent id and the flags, checked only.
        lower_hex(&fields[36..52])?;
        lower_hex(&fields[53..55])?;
        let high = lower_hex(&fields[3..19])?;
        let low = lower_hex(&fields[19..35])?;
        let id = u128::from(high) << 64 | u128::from(low);
        (id != 0).then_some(TraceId(id))
    }

    /// A `traceparent` header value for this trace, with a fresh parent
    /// (span) id and the sampled flag.
    ///
    /// ```
    /// use ctx::http::TraceId;
    ///
    /// let header = TraceId(0x4bf92f3577b34da6a3ce929d0e0e4736).to_traceparent();
    /// let text = header.to_str().unwrap();
    /// assert!(text.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    /// assert_eq!(TraceId::parse_traceparent(text), Some(TraceId(0x4bf92f3577b34da6a3ce929d0e0e4736)));
    /// ```
    pub fn to_traceparent(&self) -> HeaderValue {
        let text = format!("00-{self}-{:016x}-01", nonzero_random_u64());
        HeaderValue::from_str(&text).expect("hex digits and dashes are a valid header value")
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// The id of one request: an incoming `x-request-id` header (at most 128
/// visible ASCII characters), or a new one.
///
/// ```
/// use ctx::http::RequestId;
///
/// let a = RequestId::generate();
/// assert_ne!(a, RequestId::generate());
/// assert_eq!(a.as_str().len(), 16);
/// ```
#[derive(Clone)]
pub struct RequestId(IdText);

/// A request id's text, kept without an allocation of its own.
#[derive(Clone)]
enum IdText {
    /// A new id: 16 lowercase hex digits.
    Generated([u8; 16]),
    /// An incoming `x-request-id`, checked to be 1 to `MAX_LEN` visible
    /// ASCII characters: the header's value itself, which shares the
    /// request's bytes.
    Incoming(HeaderValue),
}

impl RequestId {
    /// The longest incoming `x-request-id` that is kept.
    ///
    /// ```
    /// use ctx::http::RequestId;
    ///
    /// assert!(RequestId::from_header(&"r".repeat(RequestId::MAX_LEN)).is_some());
    /// assert!(RequestId::from_header(&"r".repeat(RequestId::MAX_LEN + 1)).is_none());
    /// ```
    pub const MAX_LEN: usize = 128;

    /// A new random request id: 16 hex digits.
    ///
    /// ```
    /// assert!(ctx::http::RequestId::generate().as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    /// ```
    pub fn generate() -> RequestId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let bits = random_u64();
        let mut digits = [0; 16];
        for (at, digit) in digits.iter_mut().enumerate() {
            *digit = HEX[(bits >> (60 - 4 * at) & 0xf) as usize];
        }
        RequestId(IdText::Generated(digits))
    }

    /// The id of an incoming `x-request-id` header value, if it is 1 to
    /// [`MAX_LEN`](RequestId::MAX_LEN) visible ASCII characters.
    ///
    /// ```
    /// use ctx::http::RequestId;
    ///
    /// assert_eq!(RequestId::from_header("abc-123").unwrap().as_str(), "abc-123");
    /// assert!(RequestId::from_header("").is_none());
    /// assert!(RequestId::from_header("has space").is_none());
    /// ```
    pub fn from_header(value: &str) -> Option<RequestId> {
        let value = Self::is_valid(value.as_bytes()).then(|| HeaderValue::from_str(value))?;
        value.ok().map(|value| RequestId(IdText::Incoming(value)))
    }

    /// The id of an incoming `x-request-id` header, sharing its bytes, if
    /// it is 1 to [`MAX_LEN`](RequestId::MAX_LEN) visible ASCII characters.
    fn from_header_value(value: &HeaderValue) -> Option<RequestId> {
        Self::is_valid(value.as_bytes()).then(|| RequestId(IdText::Incoming(value.clone())))
    }

    /// Whether `id` is 1 to [`MAX_LEN`](RequestId::MAX_LEN) visible ASCII
    /// characters.
    fn is_valid(id: &[u8]) -> bool {
        (1..=Self::MAX_LEN).contains(&id.len()) && id.iter().all(u8::is_ascii_graphic)
    }

    /// The id as an `x-request-id` header value: the incoming header's own
    /// value, or a new id's digits.
    pub(crate) fn to_header_value(&self) -> Option<HeaderValue> {
        match &self.0 {
            IdText::Generated(digits) => HeaderValue::from_bytes(digits).ok(),
            IdText::Incoming(value) => Some(value.clone()),
        }
    }

    /// The id as text.
    ///
    /// ```
    /// let id = ctx::http::RequestId::from_header("r-1").unwrap();
    /// assert_eq!(id.as_str(), "r-1");
    /// ```
    pub fn as_str(&self) -> &str {
        let bytes = match &self.0 {
            IdText::Generated(digits) => digits.as_slice(),
            IdText::Incoming(value) => value.as_bytes(),
        };
        // Both are ASCII (hex digits; a header checked to be visible ASCII),
        // so this is never empty for want of UTF-8.
        std::str::from_utf8(bytes).unwrap_or_default()
    }
}

impl PartialEq for RequestId {
    fn eq(&self, other: &RequestId) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RequestId {}

impl Hash for RequestId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The trace and request ids a request carries, or new ones where it
/// carries none (or a malformed one).
pub(crate) fn of_request(
    traceparent: Option<&HeaderValue>,
    request_id: Option<&HeaderValue>,
) -> (TraceId, RequestId) {
    let trace_id = traceparent
        .and_then(|value| TraceId::from_traceparent(value.as_bytes()))
        .unwrap_or_else(TraceId::generate);
    let request_id = request_id
        .and_then(RequestId::from_header_value)
        .unwrap_or_else(RequestId::generate);
    (trace_id, request_id)
}

/// The value of `digits`, lowercase hex (at most 16 of them); `None` if
/// one is anything else. A table lookup and no branch per digit: a
/// `traceparent` has 52 of them, read for every request that carries one.
fn lower_hex(digits: &[u8]) -> Option<u64> {
    let mut value = 0_u64;
    let mut seen = 0_u8;
    for &digit in digits {
        let nibble = LOWER_HEX[usize::from(digit)];
        seen |= nibble;
        value = value << 4 | u64::from(nibble & 0xf);
    }
    (seen & NOT_HEX == 0).then_some(value)
}

/// In [`LOWER_HEX`]: the byte is not a lowercase hex digit.
const NOT_HEX: u8 = 0x10;

/// Each byte's value as a lowercase hex digit, or [`NOT_HEX`].
const LOWER_HEX: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut digit = 0;
    while digit < 16 {
        let byte = if digit < 10 {
            b'0' + digit
        } else {
            b'a' + digit - 10
        };
        table[byte as usize] = digit;
        digit += 1;
    }
    table
};

/// 64 unpredictable-enough bits for ids (not for cryptography): SipHash,
/// randomly keyed once per process, of a counter. The secret key makes the
/// outputs unpredictable and the counter makes every input distinct, so no
/// clock is read.
fn random_u64() -> u64 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = KEYS.get_or_init(RandomState::new).build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// [`random_u64`], never zero (W3C reserves all-zero trace and parent ids).
fn nonzero_random_u64() -> u64 {
    loop {
        let bits = random_u64();
        if bits != 0 {
            return bits;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_rejects_bad_forms() {
        let id = TraceId::generate();
        let header = id.to_traceparent();
        assert_eq!(
            TraceId::parse_traceparent(header.to_str().unwrap()),
            Some(id)
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
            "00-4bf92f3577b34da6a3ce929d0e0e47:6-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba9/2b7-01",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            "0é-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceId::parse_traceparent(bad), None, "{bad:?}");
        }
        // A later version may carry more fields after its flags.
        assert_eq!(
            TraceId::parse_traceparent(
                "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-more"
            ),
            Some(TraceId(0x4bf92f3577b34da6a3ce929d0e0e4736))
        );
    }

    #[test]
    fn a_request_id_reads_as_its_text_whatever_its_source() {
        let generated = RequestId::generate();
        let text = generated.as_str().to_owned();
        assert_eq!(text.len(), 16);
        assert!(text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        assert_eq!(format!("{generated}"), text);
        assert_eq!(format!("{generated:?}"), format!("RequestId({text:?})"));
        assert_eq!(generated.to_header_value().unwrap(), text.as_str());
        let incoming = RequestId::from_header(&text).unwrap();
        assert_eq!(incoming, generated);
        assert_eq!(incoming.to_header_value().unwrap(), text.as_str());
    }

    #[test]
    fn request_ids_are_bounded() {
        assert!(RequestId::from_header(&"a".repeat(RequestId::MAX_LEN)).is_some());
        assert!(RequestId::from_header(&"a".repeat(RequestId::MAX_LEN + 1)).is_none());
    }
}
