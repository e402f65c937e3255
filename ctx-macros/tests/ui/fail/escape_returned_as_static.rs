//! The context returned as `Context<'static>`.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn keep(ctx: &Context) -> Result<Context<'static>, Error> {
    Ok(ctx.clone())
}

fn main() {}
