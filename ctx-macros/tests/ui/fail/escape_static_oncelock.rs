//! The request's context stored in a `static`.
use std::sync::OnceLock;

use ctx::{ctx_fn, Context, Error};

static FIRST_REQUEST: OnceLock<Context<'static>> = OnceLock::new();

#[ctx_fn]
fn handler(ctx: &Context) -> Result<(), Error> {
    let _ = FIRST_REQUEST.set(ctx.clone());
    Ok(())
}

fn main() {}
