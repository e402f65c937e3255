//! An argument the detached work cannot take to another thread.
use std::rc::Rc;

use ctx::{detached, Context, Error};

#[detached]
async fn publish(ctx: Context, topic: Rc<String>) -> Result<usize, Error> {
    Ok(topic.len())
}

fn main() {}
