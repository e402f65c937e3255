//! The user's own `Result`, `Context`, `Ok`, `Err`, `Some`, `None` and
//! `Option` do not confuse the generated code.
#![allow(dead_code)]

#[derive(Debug)]
struct AppError(ctx::Error);

impl From<ctx::Error> for AppError {
    fn from(err: ctx::Error) -> Self {
        AppError(err)
    }
}

type Result<T> = std::result::Result<T, AppError>;
struct Context;
struct Ok;
struct Err;
struct Some;
struct None;
struct Option;
mod core {}

#[ctx::ctx_fn]
async fn fetch(ctx: ctx::Context, key: u32) -> Result<u32> {
    std::future::ready(()).await;
    std::result::Result::Ok(key)
}

#[ctx::detached]
async fn publish(ctx: ctx::Context, key: u32) -> Result<u32> {
    fetch(ctx, key).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ctx = ctx::Context::background();
    let key = publish(ctx, 5).await.unwrap().unwrap();
    assert_eq!(key, 5);
}
