//! `Context::todo()` inside `#[ctx_fn]`, by its full path.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn handler(ctx: &Context) -> Result<bool, Error> {
    Ok(ctx::Context::todo().is_done())
}

fn main() {}
