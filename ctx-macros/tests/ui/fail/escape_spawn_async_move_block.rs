use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context, message: String) -> Result<(), Error> {
    ctx.run(async { drop(message) }).await
}

#[ctx_fn]
async fn handler(ctx: Context, message: String) -> Result<(), Error> {
    tokio::spawn(async move { publish(ctx, message).await });
    Ok(())
}

fn main() {}
