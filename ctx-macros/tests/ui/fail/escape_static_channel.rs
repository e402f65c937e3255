//! The request's context sent down a channel of `Context<'static>`.
use ctx::{ctx_fn, Context, Error};
use tokio::sync::mpsc::UnboundedSender;

#[ctx_fn]
async fn handler(ctx: Context, jobs: UnboundedSender<Context<'static>>) -> Result<(), Error> {
    let _ = jobs.send(ctx.clone());
    Ok(())
}

fn main() {}
