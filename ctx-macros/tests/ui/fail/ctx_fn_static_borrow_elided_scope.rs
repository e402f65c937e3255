//! `&'static Context<'_>`: the borrow alone forces the scope.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn handler(ctx: &'static Context<'_>) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

fn main() {}
