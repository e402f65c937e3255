//! `tokio::spawn` under another name.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    use tokio::spawn as go;
    go(publish(ctx.clone(), msg.clone()));
    Ok(())
}

fn main() {}
