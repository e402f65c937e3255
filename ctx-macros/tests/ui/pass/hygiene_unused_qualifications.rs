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
    assert_eq!(publish(ctx, 3).await.unwrap(), Ok(3));
}
