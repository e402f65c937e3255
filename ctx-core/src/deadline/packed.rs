//! A node's own deadline, packed into the node.
//!
//! Most contexts with a deadline are a request's: made, checked and
//! cancelled within the request. Packed as 8 bytes in the node itself, the
//! deadline costs them no second allocation (the node's boxed rare state),
//! and reading it (`deadline()`, a child's `with_timeout` comparing against
//! it) takes no lock.
//!
//! An instant is 16 bytes; the packing stores the nanoseconds since a
//! process-wide epoch (the first instant packed) instead, which covers 584
//! years from it. An instant before the epoch (a deadline already past when
//! the process made its first one) or beyond that range does not pack, and
//! its node keeps it in its boxed state.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::time::Instant;

/// A deadline as the nanoseconds after [`epoch`] plus one; 0 for none.
#[derive(Clone, Copy)]
pub(crate) struct PackedDeadline(u64);

impl PackedDeadline {
    /// No deadline packed here.
    pub(crate) const NONE: PackedDeadline = PackedDeadline(0);

    /// `deadline` packed, or `None` if it is before the epoch or too far
    /// after it.
    pub(crate) fn pack(deadline: Instant) -> Option<PackedDeadline> {
        let since = deadline.checked_duration_since(epoch())?;
        let nanos = u64::try_from(since.as_nanos()).ok()?;
        nanos.checked_add(1).map(PackedDeadline)
    }

    /// The deadline packed, if any.
    pub(crate) fn unpack(self) -> Option<Instant> {
        let nanos = self.0.checked_sub(1)?;
        // Packed from an instant at least this far after the epoch, so the
        // sum is an instant too.
        epoch().checked_add(Duration::from_nanos(nanos))
    }
}

/// The instant deadlines are packed relative to: the first one asked for.
fn epoch() -> Instant {
    static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();
    Instant::from_std(*EPOCH.get_or_init(std::time::Instant::now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_trip_to_the_nanosecond() {
        // Not before the epoch, whether this or another test set it.
        let now = Instant::now().max(epoch());
        for deadline in [
            now,
            now + Duration::from_nanos(1),
            now + Duration::from_millis(250),
            now + Duration::from_secs(365 * 24 * 3600 * 100),
        ] {
            let packed = PackedDeadline::pack(deadline).expect("within range");
            assert_eq!(packed.unpack(), Some(deadline));
        }
        assert_eq!(PackedDeadline::NONE.unpack(), None);
    }

    #[test]
    fn instants_out_of_range_do_not_pack() {
        let epoch = epoch();
        assert!(PackedDeadline::pack(epoch).is_some());
        if let Some(before) = epoch.checked_sub(Duration::from_nanos(1)) {
            assert!(PackedDeadline::pack(before).is_none());
        }
        if let Some(beyond) = epoch.checked_add(Duration::from_secs(600 * 365 * 24 * 3600)) {
            assert!(PackedDeadline::pack(beyond).is_none());
        }
    }
}
