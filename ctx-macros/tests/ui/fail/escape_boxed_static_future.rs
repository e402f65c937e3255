//! A future holding the context, boxed as a `'static` trait object and
//! queued, in a plain `async fn`.
use std::future::Future;
use std::pin::Pin;

use ctx::{Context, Error};

type Job = Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'static>>;

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

pub async fn handler(ctx: Context<'_>, msg: String, queue: &mut Vec<Job>) {
    queue.push(Box::pin(publish(ctx.clone(), msg)));
}

fn main() {}
