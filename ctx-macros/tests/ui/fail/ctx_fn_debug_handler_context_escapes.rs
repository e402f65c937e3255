//! Under `#[axum::debug_handler]` the context is lent from a `'static`
//! extractor for the call: spawning it is still rejected.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
#[axum::debug_handler]
async fn hello(ctx: Context) -> Result<String, Error> {
    let name = ctx.to_string();
    tokio::spawn(async move { ctx.done().await });
    Ok(name)
}

fn main() {}
