//! A helper fn that spawns the context it is handed: rejected in the
//! helper, whoever calls it.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

fn fire(ctx: Context<'_>, m: String) {
    tokio::spawn(publish(ctx, m));
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    fire(ctx.clone(), msg);
    Ok(())
}

fn main() {}
