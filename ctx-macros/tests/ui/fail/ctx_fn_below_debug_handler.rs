//! `#[axum::debug_handler]` above `#[ctx_fn]`: `debug_handler` expands
//! first and checks the parameter's type as written, `Context` without a
//! scope, before `#[ctx_fn]` can name it. Put `#[ctx_fn]` above.
use ctx::{ctx_fn, Context, Error};

#[axum::debug_handler]
#[ctx_fn]
async fn hello(ctx: Context) -> Result<String, Error> {
    Ok(ctx.to_string())
}

fn main() {}
