//! `#[detached]` on a trait method declaration without a body.
use ctx::{detached, Context, Error};

pub trait Publisher {
    #[detached]
    async fn publish(ctx: Context) -> Result<(), Error>;
}

fn main() {}
