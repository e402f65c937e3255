//! A `'static` scope on the context parameter written by the crate's path,
//! `ctx::Context<'static>` and `::ctx::Context<'static>`: each is reported.
use ctx::{ctx_fn, Error};

#[ctx_fn]
async fn by_crate(ctx: ctx::Context<'static>) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

#[ctx_fn]
async fn by_absolute_path(ctx: ::ctx::Context<'static>) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

fn main() {}
