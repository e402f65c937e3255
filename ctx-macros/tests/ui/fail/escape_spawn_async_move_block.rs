//! The context moved into an `async move` block that is spawned.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    tokio::spawn(async move { publish(ctx, msg).await });
    Ok(())
}

fn main() {}
