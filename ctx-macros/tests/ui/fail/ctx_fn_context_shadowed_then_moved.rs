//! `ctx` shadowed by a non-context, in a body that moves `ctx` (so the
//! awaits race a clone taken after the shadowing `let`).
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(ctx: Context) -> Result<u32, Error> {
    let ctx = 5;
    std::future::ready(()).await;
    Ok(ctx)
}

fn main() {}
