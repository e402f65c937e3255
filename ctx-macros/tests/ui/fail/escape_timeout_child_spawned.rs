//! A `with_timeout` child, shadowing `ctx`, spawned.
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    let (ctx, _cancel) = ctx.with_timeout(Duration::from_secs(5));
    tokio::spawn(publish(ctx, msg));
    Ok(())
}

fn main() {}
