//! `#[ctx_fn]` under `#[async_trait]`, which has already turned the
//! method into a fn returning a boxed future (written out by hand here).
use std::future::Future;
use std::pin::Pin;

use ctx::{ctx_fn, Context, Error};

pub trait Store {
    fn get<'a>(
        &'a self,
        ctx: Context<'a>,
        key: u32,
    ) -> Pin<Box<dyn Future<Output = Result<u32, Error>> + Send + 'a>>;
}

pub struct Memory;

impl Store for Memory {
    #[ctx_fn]
    fn get<'a>(
        &'a self,
        ctx: Context<'a>,
        key: u32,
    ) -> Pin<Box<dyn Future<Output = Result<u32, Error>> + Send + 'a>> {
        Box::pin(async move { ctx.run(async move { key }).await })
    }
}

fn main() {}
