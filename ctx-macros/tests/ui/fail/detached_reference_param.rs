//! A reference parameter.
use ctx::{detached, Context, Error};

#[detached]
async fn publish(ctx: Context, topic: &str, payload: Vec<u8>) -> Result<(), Error> {
    let _ = (topic, payload);
    Ok(())
}

fn main() {}
