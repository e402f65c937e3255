//! The child `ctx.spawn` hands its work, handed on to `tokio::spawn`: its
//! scope is the work's own, so it cannot outlive the work.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>) -> Result<(), Error> {
    ctx.run(async {}).await
}

#[ctx_fn]
async fn handler(ctx: Context) -> Result<(), Error> {
    let _connection = ctx.spawn(|child| {
        Box::pin(async move {
            tokio::spawn(publish(child));
        })
    });
    Ok(())
}

fn main() {}
