//! A `for` loop binds `ctx` to a non-context and awaits in its body, in a
//! body that calls a macro: the await would race a non-context.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(ctx: Context, counts: Vec<u32>) -> Result<String, Error> {
    let mut total = 0;
    for ctx in counts {
        tokio::task::yield_now().await;
        total += ctx;
    }
    Ok(format!("{total}: {}", ctx.is_done()))
}

fn main() {}
