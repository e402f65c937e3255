//! A named scope forced to `'static` by a `where` clause.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler<'a>(ctx: Context<'a>) -> Result<bool, Error>
where
    'a: 'static,
{
    Ok(ctx.is_done())
}

fn main() {}
