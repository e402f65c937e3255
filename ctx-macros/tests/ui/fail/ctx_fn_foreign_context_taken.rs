//! A bare `Context` imported from another crate (here a local module) is
//! taken for the context, and the type check says it is not one.
mod otel {
    pub struct Context;
}

use ctx::{ctx_fn, Error};
use otel::Context;

#[ctx_fn]
async fn export(span: Context) -> Result<(), Error> {
    let _ = span;
    Ok(())
}

fn main() {}
