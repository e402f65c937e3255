//! The context bound by a pattern the macro cannot name.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
pub async fn handler(ref ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
