//! The context under a type alias: not silently given a second context.
use ctx::{ctx_fn, Error};

type Ctx<'a> = ctx::Context<'a>;

#[ctx_fn]
async fn handler(c: Ctx<'_>) -> Result<bool, Error> {
    Ok(c.is_done())
}

fn main() {}
