//! A parameter borrowing for a non-`'static` lifetime.
use std::borrow::Cow;

use ctx::{detached, Context, Error};

#[detached]
async fn publish<'a>(ctx: Context, topic: Cow<'a, str>) -> Result<(), Error> {
    let _ = topic;
    Ok(())
}

fn main() {}
