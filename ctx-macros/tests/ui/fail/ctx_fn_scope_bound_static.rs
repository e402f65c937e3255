//! A named scope forced to `'static` by its declaration's bound.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler<'a: 'static>(ctx: Context<'a>) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

fn main() {}
