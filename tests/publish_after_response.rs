//! The story of the crate, with real sockets: a handler publishes in the
//! background after answering. With the request's context, publishes are
//! lost; with `#[detached]`, none are, and every trace id is kept.
//!
//! The race is made deterministic: publishers wait until every client has
//! its response before sending (as if the broker were slow to accept), so
//! every publish outlives its request.
//!
//! Each story runs against the in-process broker, and, ignored unless
//! asked for, against a real Redis (CI starts one):
//!
//! ```sh
//! REDIS_URL=redis://127.0.0.1:6379 cargo test --features axum,ctx-examples-support/redis \
//!     --test publish_after_response -- --ignored
//! ```

use std::time::Duration;

use ctx_examples_support::publish::{run_variant, Config, Variant};

fn gated(requests: usize) -> Config {
    Config {
        requests,
        concurrency: requests,
        disconnect_share: 0.0,
        latency: Duration::from_millis(1),
        seed: 11,
        gated: true,
        redis: None,
    }
}

/// `config`, publishing to the Redis at `REDIS_URL`.
fn on_redis(config: Config) -> Config {
    let url = std::env::var("REDIS_URL").expect("set REDIS_URL to the Redis to publish to");
    Config {
        redis: Some(url),
        ..config
    }
}

async fn detached_publish_loses_nothing_and_keeps_every_trace_id(config: Config) {
    let report = run_variant(Variant::Detached, &config).await.unwrap();
    assert_eq!(report.responses, 24, "{report:?}");
    assert_eq!(report.publishes, 24, "{report:?}");
    assert_eq!(report.published, 24, "{report:?}");
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.traces_kept, 24, "{report:?}");
    assert_eq!(report.unfinished, 0, "{report:?}");
}

async fn publishing_with_the_request_context_loses_messages(config: Config) {
    let report = run_variant(Variant::RequestContext, &config).await.unwrap();
    assert_eq!(report.responses, 24, "{report:?}");
    assert_eq!(report.publishes, 24, "{report:?}");
    // Every publish was still waiting when its response was produced,
    // which cancelled the request's context it was given: all lost.
    assert_eq!(report.published, 0, "{report:?}");
    assert_eq!(report.lost, 24, "{report:?}");
    assert_eq!(report.unfinished, 0, "{report:?}");
}

async fn publishing_with_background_loses_nothing_but_every_trace_id(config: Config) {
    let report = run_variant(Variant::Background, &config).await.unwrap();
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.published, 24, "{report:?}");
    assert_eq!(report.traces_kept, 0, "{report:?}");
}

#[tokio::test]
async fn detached_publish_keeps_everything() {
    detached_publish_loses_nothing_and_keeps_every_trace_id(gated(24)).await;
}

#[tokio::test]
async fn request_context_publish_loses_messages() {
    publishing_with_the_request_context_loses_messages(gated(24)).await;
}

#[tokio::test]
async fn background_publish_loses_the_trace_ids() {
    publishing_with_background_loses_nothing_but_every_trace_id(gated(24)).await;
}

#[tokio::test]
#[ignore = "needs a Redis at REDIS_URL"]
async fn on_redis_detached_publish_keeps_everything() {
    detached_publish_loses_nothing_and_keeps_every_trace_id(on_redis(gated(24))).await;
}

#[tokio::test]
#[ignore = "needs a Redis at REDIS_URL"]
async fn on_redis_request_context_publish_loses_messages() {
    publishing_with_the_request_context_loses_messages(on_redis(gated(24))).await;
}

#[tokio::test]
#[ignore = "needs a Redis at REDIS_URL"]
async fn on_redis_background_publish_loses_the_trace_ids() {
    publishing_with_background_loses_nothing_but_every_trace_id(on_redis(gated(24))).await;
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
        redis: None,
    };
    let report = run_variant(Variant::Detached, &config).await.unwrap();
    assert!(report.clients_left > 0, "{report:?}");
    assert_eq!(report.responses + report.clients_left, 60, "{report:?}");
    assert_eq!(report.lost, 0, "{report:?}");
    assert_eq!(report.published, report.publishes, "{report:?}");
    assert_eq!(report.traces_kept, report.published, "{report:?}");
}
