//! Spawned through the runtime's `Handle`.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    tokio::runtime::Handle::current().spawn(publish(ctx.clone(), msg.clone()));
    Ok(())
}

fn main() {}
