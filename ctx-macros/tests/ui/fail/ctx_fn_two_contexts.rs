//! Two context parameters.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
pub async fn handler(ctx: Context, other: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
