//! `join!` and `select!` hold futures that borrow the request's context (no
//! `'static` needed), and their awaits are raced against it too.
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};
use tokio::time::{sleep, Instant};

async fn lookup(ctx: &Context<'_>, key: u32) -> Result<u32, Error> {
    ctx.run(sleep(Duration::from_millis(10))).await?;
    Ok(key)
}

#[ctx_fn]
async fn both(ctx: Context, slow: Duration) -> Result<(u32, u32), Error> {
    let (a, b) = tokio::join!(lookup(&ctx, 1), async {
        sleep(slow).await; // not raced by itself: the body is
        2
    });
    Ok((a?, b))
}

#[ctx_fn]
async fn first(ctx: Context, slow: Duration) -> Result<u32, Error> {
    tokio::select! {
        key = lookup(&ctx, 1) => key,
        _ = sleep(slow) => Ok(0),
    }
}

fn budget(ms: u64) -> (Context<'static>, ctx::CancelHandle) {
    Context::background().with_timeout(Duration::from_millis(ms))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let (ctx, _cancel) = budget(1_000);
    assert_eq!(
        both(ctx.clone(), Duration::from_millis(20)).await,
        Ok((1, 2))
    );
    assert_eq!(first(ctx, Duration::from_millis(1)).await, Ok(0));

    let start = Instant::now();
    let (ctx, _cancel) = budget(100);
    assert_eq!(
        both(ctx, Duration::from_secs(10)).await,
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(start.elapsed(), Duration::from_millis(100));
}
