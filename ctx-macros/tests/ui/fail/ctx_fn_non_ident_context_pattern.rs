use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
async fn handler(ref ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
