//! `ctx` shadowed by a non-context, then an `.await`, which races the
//! `ctx` in scope.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(ctx: Context) -> Result<u32, Error> {
    let ctx = 5u32;
    std::future::ready(()).await;
    Ok(ctx.count_ones())
}

fn main() {}
