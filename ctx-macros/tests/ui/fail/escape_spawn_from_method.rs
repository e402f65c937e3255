//! A spawn from a `#[ctx_fn]` method taking `&self`.
use ctx::{ctx_fn, Context, Error};

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

pub struct Service;

impl Service {
    #[ctx_fn]
    pub async fn handle(&self, ctx: Context, msg: String) -> Result<(), Error> {
        tokio::spawn(publish(ctx.clone(), msg));
        Ok(())
    }
}

fn main() {}
