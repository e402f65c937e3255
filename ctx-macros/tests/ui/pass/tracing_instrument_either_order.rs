//! `#[tracing::instrument]` above or below `#[ctx_fn]`, with an
//! `#[uncancelable]` statement that must finish past the deadline.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};
use tokio::time::sleep;

static FLUSHED: AtomicUsize = AtomicUsize::new(0);

async fn flush() {
    sleep(Duration::from_secs(1)).await;
    FLUSHED.fetch_add(1, Ordering::SeqCst);
}

#[tracing::instrument(skip(ctx))]
#[ctx_fn]
async fn instrument_above(ctx: Context, key: u32) -> Result<u32, Error> {
    #[uncancelable]
    flush().await;
    sleep(Duration::from_secs(1)).await;
    Ok(key)
}

#[ctx_fn]
#[tracing::instrument(skip(ctx))]
async fn instrument_below(ctx: Context, key: u32) -> Result<u32, Error> {
    #[uncancelable]
    flush().await;
    sleep(Duration::from_secs(1)).await;
    Ok(key)
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(100));
    assert_eq!(
        instrument_above(ctx.clone(), 1).await,
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(FLUSHED.load(Ordering::SeqCst), 1);
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(100));
    assert_eq!(instrument_below(ctx, 2).await, Err(Error::DeadlineExceeded));
    assert_eq!(FLUSHED.load(Ordering::SeqCst), 2);
    let ctx = Context::background();
    assert_eq!(instrument_above(ctx.clone(), 3).await, Ok(3));
    assert_eq!(instrument_below(ctx, 4).await, Ok(4));
}
