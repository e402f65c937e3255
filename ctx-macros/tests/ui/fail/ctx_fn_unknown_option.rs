//! An option `#[ctx_fn]` does not have.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn(timeout = "5s")]
async fn handler(ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
