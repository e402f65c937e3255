//! `spawn_blocking` with the context captured, handle discarded.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(ctx: Context) -> Result<(), Error> {
    let _ = tokio::task::spawn_blocking(move || println!("{}", ctx));
    Ok(())
}

fn main() {}
