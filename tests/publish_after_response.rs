//! The story of the crate, with real sockets: a handler publishes in the
//! background after answering. With the request's context, publishes are
//! lost; with `#[detached]`, none are, and every trace id is kept.
//!
//! The race is made deterministic: publishers wait until every client has
//! its response before sending (as if the broker were slow to accept), so
//! every publish outlives its request.

#[path = "../examples/support/publish.rs"]
mod publish;
#[path = "../examples/support/mod.rs"]
mod support;

use std::time::Duration;

use publish::{run_variant, Config, Variant};

fn gated(requests: usize) -> Config {
    Config {
        requests,
        concurrency: requests,
        disconnect_share: 0.0,
        latency: Duration::from_millis(1),
        seed: 11,
        gated: true,
    }
}

#[tokio::test]
async fn detached_publish_loses_nothing_and_keeps_every_trace_id() {
    let report = run_variant(Variant::Detached, &gated(24)).await.unwrap();
    assert_eq!(report.responses, 24, "{report:?}");
    assert_eq!(report.publishes, 24, "{report:?}");
    assert_eq!(report.published, 24, "{report:?}");
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.traces_kept, 24, "{report:?}");
    assert_eq!(report.unfinished, 0, "{report:?}");
}

#[tokio::test]
async fn publishing_with_the_request_context_loses_messages() {
    let report = run_variant(Variant::RequestContext, &gated(24))
        .await
        .unwrap();
    assert_eq!(report.responses, 24, "{report:?}");
    assert_eq!(report.publishes, 24, "{report:?}");
    // Every publish was still waiting when its response was produced,
    // which cancelled the request's context it was given: all lost.
    assert_eq!(report.published, 0, "{report:?}");
    assert_eq!(report.lost, 24, "{report:?}");
    assert_eq!(report.unfinished, 0, "{report:?}");
}

#[tokio::test]
async fn publishing_with_background_loses_nothing_but_every_trace_id() {
    let report = run_variant(Variant::Background, &gated(24)).await.unwrap();
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.published, 24, "{report:?}");
    assert_eq!(report.traces_kept, 0, "{report:?}");
}

/// With clients walking away at random points, the fix still loses
/// nothing: every receipt the handler computed is published, with its
/// trace id.
#[tokio::test]
async fn detached_publish_survives_clients_that_leave() {
    let config = Config {
        requests: 60,
        concurrency: 16,
        disconnect_share: 0.5,
        latency: Duration::from_millis(2),
        seed: 3,
        gated: false,
    };
    let report = run_variant(Variant::Detached, &config).await.unwrap();
    assert!(report.clients_left > 0, "{report:?}");
    assert_eq!(report.responses + report.clients_left, 60, "{report:?}");
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.published, report.publishes, "{report:?}");
    assert_eq!(report.traces_kept, report.published, "{report:?}");
}
