//! A `match` arm binds `ctx` to a non-context and awaits in the arm, in a
//! body that moves its context: the await would race a non-context.
use ctx::{ctx_fn, Context, Error};

async fn takes_context(ctx: Context<'_>) -> Result<u32, Error> {
    ctx.err().map_or(Ok(1), Err)
}

#[ctx_fn]
async fn handler(ctx: Context, counts: Vec<u32>) -> Result<u32, Error> {
    let total = match counts.first() {
        Some(ctx) => {
            tokio::task::yield_now().await;
            *ctx
        }
        None => 0,
    };
    Ok(total + takes_context(ctx).await?)
}

fn main() {}
