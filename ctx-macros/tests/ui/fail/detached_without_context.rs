//! No context parameter.
use ctx::{detached, Error};

#[detached]
async fn publish(payload: Vec<u8>) -> Result<(), Error> {
    let _ = payload;
    Ok(())
}

fn main() {}
