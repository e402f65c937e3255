//! An option `#[detached]` does not have.
use ctx::{detached, Context, Error};

#[detached(retries = 3)]
async fn publish(ctx: Context) -> Result<(), Error> {
    Ok(())
}

fn main() {}
