//! `&'static Context`: a borrow for `'static` makes the context's scope
//! `'static` too.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn handler(ctx: &'static Context) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

fn main() {}
