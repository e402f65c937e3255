//! A new root context inside `#[ctx_fn]`.
use ctx::{ctx_fn, Context, Error};

async fn query(ctx: Context<'_>, sql: &str) -> usize {
    ctx.to_string().len() + sql.len()
}

#[ctx_fn]
async fn handler(ctx: Context) -> Result<usize, Error> {
    Ok(query(Context::background(), "select 1").await)
}

fn main() {}
