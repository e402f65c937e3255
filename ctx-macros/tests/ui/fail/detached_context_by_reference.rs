//! The context by reference: the work outlives the borrow.
use ctx::{detached, Context, Error};

#[detached]
async fn publish(ctx: &Context, payload: Vec<u8>) -> Result<(), Error> {
    let _ = payload;
    Ok(())
}

fn main() {}
