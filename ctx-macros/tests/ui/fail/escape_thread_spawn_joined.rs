//! A thread joined before returning still needs `'static`:
//! `std::thread::scope` is the way to borrow.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn handler(ctx: &Context) -> Result<bool, Error> {
    let watched = ctx.clone();
    let done = std::thread::spawn(move || watched.is_done())
        .join()
        .unwrap();
    Ok(done)
}

fn main() {}
