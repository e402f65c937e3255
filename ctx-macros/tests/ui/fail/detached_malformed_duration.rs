//! A malformed duration string.
use ctx::{detached, Context, Error};

#[detached(timeout = "5 seconds")]
async fn publish(ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
