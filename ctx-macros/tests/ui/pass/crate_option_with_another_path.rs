//! `crate = path`: the `ctx` crate reached by another path (as when the
//! dependency is renamed), for `#[ctx_fn]` and `#[detached]`.
mod deps {
    pub use ::ctx as context_crate;
}

use deps::context_crate::{ctx_fn, detached, Context, Error};

#[ctx_fn(crate = deps::context_crate)]
async fn fetch(ctx: Context, key: u32) -> Result<u32, Error> {
    tokio::task::yield_now().await;
    Ok(key)
}

#[ctx_fn(crate = deps::context_crate)]
fn check(ctx: &deps::context_crate::Context) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

#[detached(crate = deps::context_crate, timeout = "1s")]
async fn publish(ctx: Context, key: u32) -> Result<u32, Error> {
    fetch(ctx, key + 1).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (ctx, cancel) = Context::background().with_cancel();
    assert_eq!(fetch(ctx.clone(), 1).await, Ok(1));
    assert_eq!(check(&ctx), Ok(false));
    assert_eq!(publish(ctx.clone(), 1).await.unwrap(), Ok(2));
    cancel.cancel();
    assert_eq!(check(&ctx), Err(Error::Canceled));
}
