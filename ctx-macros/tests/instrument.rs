//! `#[ctx_fn]` composes with `#[tracing::instrument]` in either order: the
//! awaits are checked, and an `#[uncancelable]` statement finishes, on
//! tokio's paused clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};
use tokio::time::{sleep, Instant};

#[ctx_fn]
#[tracing::instrument(skip_all)]
async fn ctx_fn_above(ctx: Context, flushed: &AtomicBool) -> Result<(), Error> {
    #[uncancelable]
    sleep(Duration::from_secs(2)).await;
    flushed.store(true, Ordering::SeqCst);
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

#[tracing::instrument(skip_all)]
#[ctx_fn]
async fn ctx_fn_below(ctx: Context, flushed: &AtomicBool) -> Result<(), Error> {
    #[uncancelable]
    sleep(Duration::from_secs(2)).await;
    flushed.store(true, Ordering::SeqCst);
    sleep(Duration::from_secs(10)).await;
    Ok(())
}

async fn check_order<F, Fut>(f: F, flushed: &'static AtomicBool)
where
    F: FnOnce(Context<'static>, &'static AtomicBool) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(1));
    let start = Instant::now();
    assert_eq!(f(ctx, flushed).await, Err(Error::DeadlineExceeded));
    assert!(
        flushed.load(Ordering::SeqCst),
        "the uncancelable sleep finished"
    );
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(2),
        "the next await is checked"
    );
}

#[tokio::test(start_paused = true)]
async fn ctx_fn_above_instrument() {
    static FLUSHED: AtomicBool = AtomicBool::new(false);
    check_order(ctx_fn_above, &FLUSHED).await;
}

#[tokio::test(start_paused = true)]
async fn ctx_fn_below_instrument() {
    static FLUSHED: AtomicBool = AtomicBool::new(false);
    check_order(ctx_fn_below, &FLUSHED).await;
}
