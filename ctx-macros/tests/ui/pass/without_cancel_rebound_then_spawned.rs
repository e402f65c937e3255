//! The fix for the escape: rebind `ctx` to its `without_cancel()`, which is
//! `'static`, then spawn. The work keeps the request's values and outlives
//! its cancellation.
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};
use tokio::task::JoinHandle;

struct RequestId(u64);

async fn publish(ctx: Context<'_>, msg: String) -> Result<String, Error> {
    ctx.run(tokio::time::sleep(Duration::from_secs(1))).await?;
    let id = ctx.value::<RequestId>().map_or(0, |id| id.0);
    Ok(format!("{msg} (request {id})"))
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<JoinHandle<Result<String, Error>>, Error> {
    let ctx = ctx.without_cancel();
    Ok(tokio::spawn(publish(ctx, msg)))
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let (request, cancel) = Context::background().with_value(RequestId(7)).with_cancel();
    let published = handler(request, "hello".to_owned()).await.unwrap();
    cancel.cancel(); // the response is written: the request is over
    assert_eq!(published.await.unwrap(), Ok("hello (request 7)".to_owned()));
}
