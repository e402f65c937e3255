//! The spawned task's handle dropped explicitly, in a plain `async fn`.
use ctx::{Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

pub async fn handler(ctx: Context<'_>, msg: String) {
    drop(tokio::spawn(publish(ctx.clone(), msg.clone())));
}

fn main() {}
