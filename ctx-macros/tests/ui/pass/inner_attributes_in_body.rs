//! Inner attributes at the top of a `#[ctx_fn]` or `#[detached]` body
//! apply to the body.
#![deny(unused_variables)]

use ctx::{ctx_fn, detached, Context, Error};

#[ctx_fn]
async fn handler(ctx: Context, key: u32) -> Result<u32, Error> {
    #![allow(unused_variables)]
    let unused = 1;
    std::future::ready(()).await;
    Ok(key)
}

#[detached]
async fn publish(ctx: Context, key: u32) -> Result<u32, Error> {
    #![allow(unused_variables)]
    let unused = 2;
    Ok(key + 1)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ctx = Context::background();
    assert_eq!(handler(ctx.clone(), 1).await, Ok(1));
    assert_eq!(publish(ctx, 1).await.unwrap(), Ok(2));
}
