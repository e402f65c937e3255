//! What the layer reads of a request's headers, found in one pass over
//! them: looking each header up by name would hash its name, for every
//! request, whether the request carries it or not (five lookups a request).

use http::{HeaderMap, HeaderValue};

use crate::http::deadline_header::DeadlineValues;
use crate::http::ids::{REQUEST_ID, TRACEPARENT};

/// The first value of each header the layer reads, if the request carries
/// it.
pub(super) struct IncomingHeaders<'h> {
    pub(super) traceparent: Option<&'h HeaderValue>,
    pub(super) request_id: Option<&'h HeaderValue>,
    pub(super) deadlines: DeadlineValues<'h>,
}

impl<'h> IncomingHeaders<'h> {
    pub(super) fn of(headers: &'h HeaderMap) -> IncomingHeaders<'h> {
        let mut found = IncomingHeaders {
            traceparent: None,
            request_id: None,
            deadlines: DeadlineValues::default(),
        };
        for (name, value) in headers {
            if found.deadlines.note(name, value) {
                continue;
            }
            if *name == TRACEPARENT {
                found.traceparent.get_or_insert(value);
            } else if *name == REQUEST_ID {
                found.request_id.get_or_insert(value);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::header::HOST;

    use super::*;
    use crate::http::deadline_header::HeaderSet;

    #[test]
    fn the_first_value_of_each_read_header_is_found_and_others_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, HeaderValue::from_static("example.com"));
        headers.append(REQUEST_ID, HeaderValue::from_static("first"));
        headers.append(REQUEST_ID, HeaderValue::from_static("second"));
        headers.insert("grpc-timeout", HeaderValue::from_static("2S"));
        headers.insert("x-unrelated", HeaderValue::from_static("1"));
        let found = IncomingHeaders::of(&headers);
        assert_eq!(found.request_id, Some(&HeaderValue::from_static("first")));
        assert_eq!(found.traceparent, None);
        assert_eq!(
            HeaderSet::ALL.read(&found.deadlines),
            Ok(Some(Duration::from_secs(2)))
        );
    }
}
