//! `#[axum::debug_handler]` above `#[ctx_fn]` with a `'static` context:
//! the message says to put `#[ctx_fn]` above (where `ctx: Context` works).
use ctx::{ctx_fn, Context, Error};

#[axum::debug_handler]
#[ctx_fn]
async fn hello(ctx: Context<'static>) -> Result<String, Error> {
    Ok(ctx.to_string())
}

fn main() {}
