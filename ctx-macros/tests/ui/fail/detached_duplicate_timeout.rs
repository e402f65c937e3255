//! The `timeout` option given twice.
use ctx::{detached, Context, Error};

#[detached(timeout = "1s", timeout = "2s")]
async fn publish(ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
