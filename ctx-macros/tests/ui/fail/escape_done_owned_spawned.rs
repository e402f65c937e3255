//! `done_owned()` keeps the context's scope: a cleanup task waiting on it
//! cannot be spawned.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(ctx: Context) -> Result<(), Error> {
    let done = ctx.done_owned();
    tokio::spawn(async move {
        let err = done.await;
        eprintln!("request over: {err}");
    });
    Ok(())
}

fn main() {}
