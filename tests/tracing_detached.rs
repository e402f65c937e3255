//! With the `tracing` feature, `#[detached]` work runs inside the span that
//! was current where it was started: the request's span follows the
//! request's context into the work that outlives it, and so do the events
//! that report its failures.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ctx::{detached, Context, DetachedTracker, Error};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{self, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, PartialEq)]
struct TraceId(&'static str);

/// Reports the name of the span the work runs in, after the caller's
/// context is long gone.
#[detached]
async fn publish(ctx: Context) -> Result<(Option<&'static str>, bool), Error> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    let span = tracing::Span::current();
    Ok((
        span.metadata().map(|meta| meta.name()),
        ctx.value::<TraceId>().is_some(),
    ))
}

#[tokio::test(start_paused = true)]
async fn detached_work_runs_in_the_span_current_at_its_start() {
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
    let (request, cancel) = Context::background()
        .with_value(TraceId("abc"))
        .with_cancel();
    let published = tracing::info_span!("request").in_scope(|| publish(request.clone()));
    cancel.cancel();
    assert_eq!(published.await.unwrap(), Ok((Some("request"), true)));
}

#[tokio::test(start_paused = true)]
async fn detached_work_started_outside_any_span_runs_in_none() {
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
    let published = publish(Context::background());
    assert_eq!(published.await.unwrap(), Ok((None, false)));
}

/// An event as a subscriber saw it: the span it was recorded in, and its
/// message.
type Seen = (Option<String>, String);

/// The failures of detached work, as a subscriber sees them.
#[derive(Clone, Default)]
struct Failures(Arc<Mutex<Vec<Seen>>>);

impl<S> Layer<S> for Failures
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_event(&self, event: &tracing::Event<'_>, ctx: layer::Context<'_, S>) {
        struct Message(String);
        impl Visit for Message {
            fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let span = ctx.event_span(event).map(|span| span.name().to_owned());
        self.0.lock().unwrap().push((span, message.0));
    }
}

#[detached(timeout = "5s")]
async fn flaky_publish(ctx: Context, secs: u64) -> Result<(), Error> {
    tokio::time::sleep(Duration::from_secs(secs)).await;
    Err(Error::Canceled)
}

/// With a subscriber, a failure of work nobody awaits is an ERROR event in
/// the request's span (where the work was started), long after the request
/// is gone.
#[tokio::test(start_paused = true)]
async fn failures_are_events_in_the_request_span() {
    let failures = Failures::default();
    let _subscriber =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(failures.clone()));
    let tracker = DetachedTracker::new();
    let (request, cancel) = Context::background()
        .with_value(tracker.clone())
        .with_cancel();
    tracing::info_span!("request").in_scope(|| {
        flaky_publish(request.clone(), 1);
        flaky_publish(request.clone(), 8);
    });
    cancel.cancel();
    let (bound, _cancel) = Context::background().with_timeout(Duration::from_secs(60));
    let report = tracker.drain(&bound).await;
    assert_eq!((report.failed, report.timed_out), (1, 1), "{report}");
    assert_eq!(
        *failures.0.lock().unwrap(),
        [
            (
                Some("request".to_owned()),
                "detached `flaky_publish` failed: Canceled".to_owned()
            ),
            (
                Some("request".to_owned()),
                "detached `flaky_publish` timed out after its 5s timeout: DeadlineExceeded"
                    .to_owned()
            ),
        ]
    );
}
