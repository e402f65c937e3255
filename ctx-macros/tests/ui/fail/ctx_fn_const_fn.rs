//! `#[ctx_fn]` on a `const fn`.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
const fn answer(ctx: &Context) -> Result<u32, Error> {
    Ok(42)
}

fn main() {}
