//! `&'static Context<'static>`: both lifetimes are reported.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn handler(ctx: &'static Context<'static>) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

fn main() {}
