//! A timeout that is a number, not a duration string.
use ctx::{detached, Context, Error};

#[detached(timeout = 5)]
async fn publish(ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
