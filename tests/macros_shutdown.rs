//! Shutdown waits for outstanding `#[detached]` work. Alone in its binary:
//! the tracker is process-wide, and other tests' detached work would count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ctx::{detached, Context, Error};

#[detached]
async fn publish(ctx: Context, secs: u64, published: Arc<AtomicUsize>) -> Result<(), Error> {
    tokio::time::sleep(Duration::from_secs(secs)).await;
    published.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_outstanding_detached_work_within_its_bound() {
    let published = Arc::new(AtomicUsize::new(0));
    let (request, cancel) = Context::background().with_cancel();
    for secs in 1..=3 {
        publish(request.clone(), secs, published.clone());
    }
    cancel.cancel();
    assert_eq!(ctx::detached_running(), 3);

    let start = tokio::time::Instant::now();
    let (shutdown, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
    assert_eq!(ctx::wait_detached(&shutdown).await, Ok(()));
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(published.load(Ordering::SeqCst), 3, "a publish was lost");
    assert_eq!(ctx::detached_running(), 0);

    // The bound holds when work outlasts it.
    publish(Context::background(), 60, published.clone());
    let (shutdown, _cancel) = Context::background().with_timeout(Duration::from_secs(5));
    assert_eq!(
        ctx::wait_detached(&shutdown).await,
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(ctx::detached_running(), 1);
    assert_eq!(published.load(Ordering::SeqCst), 3);
}
