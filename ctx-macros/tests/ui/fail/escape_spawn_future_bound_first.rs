//! The request's context, in a future bound to a name first, then spawned.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    let pending = publish(ctx.clone(), msg.clone());
    tokio::spawn(pending);
    Ok(())
}

fn main() {}
