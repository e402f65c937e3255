//! A `'static` scope on the context parameter: the fn could keep the
//! request's context past the request.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(ctx: Context<'static>) -> Result<bool, Error> {
    Ok(ctx.is_done())
}

fn main() {}
