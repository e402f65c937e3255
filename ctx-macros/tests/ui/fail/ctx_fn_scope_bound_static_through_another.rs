//! A scope forced to `'static` through another lifetime: `'a: 'b` and
//! `'b: 'static`. The error is at the bound to remove.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler<'a: 'b, 'b: 'static>(ctx: &'a Context<'_>, name: &'b str) -> Result<String, Error> {
    Ok(format!("{name}: {}", ctx.is_done()))
}

fn main() {}
