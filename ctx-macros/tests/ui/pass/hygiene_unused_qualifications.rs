//! Generated paths are fully qualified, yet trip no lint in user code.
#![deny(unused_qualifications, unused, warnings)]

use std::time::Duration;

use ctx::{ctx_fn, detached, Context, Error};

#[ctx_fn]
async fn fetch(ctx: Context, key: u32) -> Result<u32, Error> {
    tokio::time::sleep(Duration::from_millis(1)).await;
    Ok(key)
}

#[ctx_fn]
fn sync_check(ctx: &Context) -> Result<(), Error> {
    Ok(())
}

#[ctx_fn]
async fn by_reference(ctx: &Context) -> Result<u32, Error> {
    let key = fetch(ctx.clone(), 1).await?;
    Ok(key)
}

#[ctx_fn]
async fn raced_whole(ctx: Context, key: u32) -> Result<u32, Error> {
    #[uncancelable]
    let key = fetch(ctx.clone(), key).await?;
    let (ctx, _cancel) = ctx.with_timeout(Duration::from_secs(1));
    tokio::select! {
        key = fetch(ctx.clone(), key) => key,
        _ = ctx.done() => Ok(0),
    }
}

#[ctx_fn]
async fn unnamed(_: Context) -> Result<(), Error> {
    tokio::task::yield_now().await;
    Ok(())
}

#[ctx_fn]
async fn tally(ctx: Context, mut total: u32, (a, b): (u32, u32)) -> Result<u32, Error> {
    tokio::task::yield_now().await;
    total += a + b;
    Ok(total)
}

/// Rebinds `ctx` every way, assigns it, moves it and calls a macro: the
/// clones taken again (some never read after) trip no lint either.
#[ctx_fn]
async fn rebinding(mut ctx: Context, key: u32) -> Result<u32, Error> {
    let (child, _cancel) = ctx.with_timeout(Duration::from_secs(1));
    ctx = child;
    if let Some((ctx, _cancel)) = Some(ctx.with_timeout(Duration::from_secs(1))) {
        tokio::task::yield_now().await;
        assert!(!ctx.is_done());
    }
    for ctx in [ctx.clone()] {
        assert!(!ctx.is_done());
    }
    let key = fetch(ctx.clone(), key).await?;
    let _ = format!("{key}");
    let (child, _cancel) = ctx.with_timeout(Duration::from_secs(1));
    ctx = child;
    fetch(ctx, key).await
}

#[detached(timeout = "1s")]
async fn publish(ctx: Context, key: u32) -> Result<u32, Error> {
    let key = fetch(ctx, key).await?;
    Ok(key)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ctx = Context::background();
    sync_check(&ctx).unwrap();
    assert_eq!(by_reference(&ctx).await, Ok(1));
    assert_eq!(raced_whole(ctx.clone(), 2).await, Ok(2));
    assert_eq!(unnamed(ctx.clone()).await, Ok(()));
    assert_eq!(tally(ctx.clone(), 1, (2, 3)).await, Ok(6));
    assert_eq!(rebinding(ctx.clone(), 4).await, Ok(4));
    assert_eq!(publish(ctx, 3).await.unwrap(), Ok(3));
}
