//! `ctx.spawn` handed the parent context instead of the child it gives.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    let _publishing = ctx.spawn(|_child| Box::pin(publish(ctx.clone(), msg)));
    Ok(())
}

fn main() {}
