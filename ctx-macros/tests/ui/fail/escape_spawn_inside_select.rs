//! A spawn inside a `tokio::select!` branch, whose body the macro races as
//! a whole.
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(1)) => {
            tokio::spawn(publish(ctx.clone(), msg));
        }
        _ = ctx.done() => {}
    }
    Ok(())
}

fn main() {}
