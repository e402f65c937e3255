//! A zero timeout.
use ctx::{detached, Context, Error};

#[detached(timeout = "0s")]
async fn publish(ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
