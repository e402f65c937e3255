//! Under `#[axum::debug_handler]`, a context taken by reference: axum
//! extracts owned values.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
#[axum::debug_handler]
async fn hello(ctx: &Context) -> Result<String, Error> {
    Ok(ctx.to_string())
}

fn main() {}
