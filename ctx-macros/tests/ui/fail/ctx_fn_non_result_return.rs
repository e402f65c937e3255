//! A return type that cannot carry the context's error.
use ctx::{ctx_fn, Context};

#[ctx_fn]
async fn count(ctx: Context) -> Option<u32> {
    Some(1)
}

fn main() {}
