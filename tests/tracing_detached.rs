//! With the `tracing` feature, `#[detached]` work runs inside the span that
//! was current where it was started: the request's span follows the
//! request's context into the work that outlives it.

use std::time::Duration;

use ctx::{detached, Context, Error};

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
    drop(cancel);
    assert_eq!(published.await.unwrap(), Ok((Some("request"), true)));
}

#[tokio::test(start_paused = true)]
async fn detached_work_started_outside_any_span_runs_in_none() {
    let _subscriber = tracing::subscriber::set_default(tracing_subscriber::registry());
    let published = publish(Context::background());
    assert_eq!(published.await.unwrap(), Ok((None, false)));
}
