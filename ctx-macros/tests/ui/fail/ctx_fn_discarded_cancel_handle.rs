//! A derived context and its cancel handle thrown away.
#![deny(unused_must_use)]

use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(ctx: Context) -> Result<(), Error> {
    ctx.with_cancel();
    Ok(())
}

fn main() {}
