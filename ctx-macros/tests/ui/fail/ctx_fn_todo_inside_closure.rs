use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn handler(ctx: &Context) -> Result<Vec<Context>, Error> {
    let fresh = || ctx::Context::todo();
    Ok(vec![fresh()])
}

fn main() {}
