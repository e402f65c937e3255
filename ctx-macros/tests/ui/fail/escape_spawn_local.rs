//! `spawn_local` on a `LocalSet`: not `Send`, but still `'static`.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    tokio::task::spawn_local(publish(ctx.clone(), msg));
    Ok(())
}

fn main() {}
