//! A clone of the context inside its own `after_func` callback.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn handler(ctx: &Context) -> Result<(), Error> {
    let watched = ctx.clone();
    let _stop = ctx.after_func(move || eprintln!("request over: {:?}", watched.cause()));
    Ok(())
}

fn main() {}
