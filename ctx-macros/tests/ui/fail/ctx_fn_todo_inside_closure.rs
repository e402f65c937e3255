//! `Context::todo()` inside a closure of a `#[ctx_fn]` body.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn handler(ctx: &Context) -> Result<Vec<Context<'static>>, Error> {
    let fresh = || ctx::Context::todo();
    Ok(vec![fresh()])
}

fn main() {}
