//! `mut ctx: Context<'static>`: the pattern does not hide the scope.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(mut ctx: Context<'static>) -> Result<bool, Error> {
    ctx = ctx.without_cancel();
    Ok(ctx.is_done())
}

fn main() {}
