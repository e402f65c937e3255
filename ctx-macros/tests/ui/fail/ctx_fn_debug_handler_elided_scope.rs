//! `#[axum::debug_handler]` below `#[ctx_fn]` with an elided context scope:
//! it takes no generic fn, and the macro declares `'request`.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
#[axum::debug_handler]
async fn hello(ctx: Context) -> Result<String, Error> {
    Ok(ctx.to_string())
}

fn main() {}
