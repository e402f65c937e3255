//! `#[detached]` on a sync fn.
use ctx::{detached, Context, Error};

#[detached]
fn publish(ctx: Context, payload: Vec<u8>) -> Result<(), Error> {
    let _ = payload;
    Ok(())
}

fn main() {}
