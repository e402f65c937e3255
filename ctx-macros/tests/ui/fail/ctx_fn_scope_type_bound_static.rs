//! `Context<'a>: 'static` forces the scope `'a` as `'a: 'static` does.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler<'a>(ctx: Context<'a>) -> Result<bool, Error>
where
    Context<'a>: 'static,
{
    Ok(ctx.is_done())
}

fn main() {}
