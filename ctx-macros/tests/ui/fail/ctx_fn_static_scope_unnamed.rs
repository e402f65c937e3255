//! `_: Context<'static>`: a context taken only to check the awaits is
//! still the request's.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(_: Context<'static>) -> Result<(), Error> {
    tokio::task::yield_now().await;
    Ok(())
}

fn main() {}
