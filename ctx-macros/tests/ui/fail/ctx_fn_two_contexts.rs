use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(ctx: Context, other: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
