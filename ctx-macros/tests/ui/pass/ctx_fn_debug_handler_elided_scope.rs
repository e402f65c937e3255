//! `#[axum::debug_handler]` below `#[ctx_fn]` with the context's scope
//! elided, as in any other `#[ctx_fn]`: `debug_handler` takes no generic
//! fn, so the macro takes the context from a `'static` extractor and lends
//! it to the body for the call.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
#[axum::debug_handler]
async fn hello(ctx: Context) -> Result<String, Error> {
    Ok(ctx.to_string())
}

#[ctx_fn]
#[axum::debug_handler]
async fn anonymous_scope(ctx: Context<'_>) -> Result<String, Error> {
    Ok(ctx.to_string())
}

fn main() {
    let _ = axum::Router::<()>::new()
        .route("/", axum::routing::get(hello))
        .route("/anonymous", axum::routing::get(anonymous_scope));
}
