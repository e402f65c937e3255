//! The other way out: a `#[ctx_fn]` handler calls a `#[detached]` fn with
//! the request's context; the work outlives the request and is waited for
//! at shutdown.
use std::time::Duration;

use ctx::{ctx_fn, detached, Context, Detached, DetachedTracker, Error};

#[detached(timeout = "5s")]
async fn publish(ctx: Context, msg: String) -> Result<String, Error> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(msg)
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<Detached<Result<String, Error>>, Error> {
    Ok(publish(ctx, msg))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let (request, cancel) = Context::background().with_cancel();
    let published = handler(request, "hi".to_owned()).await.unwrap();
    cancel.cancel();
    let (shutdown, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
    let report = DetachedTracker::of(&shutdown).drain(&shutdown).await;
    assert_eq!(report.running, 0, "{report}");
    assert_eq!(published.await.unwrap(), Ok("hi".to_owned()));
}
