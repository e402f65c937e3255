//! Every spelling of the context parameter `#[ctx_fn]` finds, and the one
//! it inserts when there is none.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn bare(ctx: Context) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

#[ctx_fn]
fn scoped(ctx: Context<'_>) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

#[ctx_fn]
fn named<'r>(ctx: Context<'r>) -> Result<Context<'r>, Error> {
    Ok(ctx)
}

#[ctx_fn]
fn by_path(ctx: ctx::Context) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

#[ctx_fn]
fn by_absolute_path(ctx: &::ctx::Context<'_>) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

#[ctx_fn]
fn by_reference(ctx: &Context) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

#[ctx_fn]
async fn unused(_: Context) -> Result<u32, Error> {
    std::future::ready(()).await;
    Ok(1)
}

#[ctx_fn]
async fn inserted(key: u32) -> Result<u32, Error> {
    Ok(key + u32::from(ctx.is_done()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (ctx, cancel) = Context::background().with_cancel();
    assert_eq!(bare(ctx.clone()), Ok(false));
    assert_eq!(scoped(ctx.clone()), Ok(false));
    assert!(named(ctx.clone()).is_ok());
    assert_eq!(by_path(ctx.clone()), Ok(false));
    assert_eq!(by_absolute_path(&ctx), Ok(false));
    assert_eq!(by_reference(&ctx), Ok(false));
    assert_eq!(unused(ctx.clone()).await, Ok(1));
    assert_eq!(inserted(ctx.clone(), 1).await, Ok(1));
    cancel.cancel();
    assert_eq!(bare(ctx.clone()), Err(Error::Canceled));
    assert_eq!(by_reference(&ctx), Err(Error::Canceled));
    assert_eq!(inserted(ctx, 1).await, Err(Error::Canceled));
}
