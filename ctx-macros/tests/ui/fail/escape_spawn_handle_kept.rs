//! The spawned task's handle kept in a variable, never awaited.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    let _publishing = tokio::spawn(publish(ctx.clone(), msg.clone()));
    Ok(())
}

fn main() {}
