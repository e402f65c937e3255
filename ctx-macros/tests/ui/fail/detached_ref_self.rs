//! A method borrowing `self`.
use ctx::{detached, Context, Error};

struct Broker;

impl Broker {
    #[detached]
    async fn publish(&self, ctx: Context, payload: Vec<u8>) -> Result<(), Error> {
        let _ = payload;
        Ok(())
    }
}

fn main() {}
