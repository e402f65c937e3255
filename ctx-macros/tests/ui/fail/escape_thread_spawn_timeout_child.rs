//! A `with_timeout` child of the context, in a `std::thread::spawn`ed
//! closure, from a sync `#[ctx_fn]`.
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn handler(ctx: Context) -> Result<(), Error> {
    let (child, _cancel) = ctx.with_timeout(Duration::from_secs(1));
    std::thread::spawn(move || {
        while !child.is_done() {
            std::thread::yield_now();
        }
    });
    Ok(())
}

fn main() {}
