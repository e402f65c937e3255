//! A spawned task awaited in place still needs `'static`: the request may
//! be dropped mid-await and the task would run on. `ctx.spawn` is the
//! structured way.
use ctx::{ctx_fn, Context, Error};

async fn work(ctx: Context<'_>) -> usize {
    ctx.to_string().len()
}

#[ctx_fn]
async fn handler(ctx: Context) -> Result<usize, Error> {
    let len = tokio::spawn(work(ctx.clone())).await.unwrap();
    Ok(len)
}

fn main() {}
