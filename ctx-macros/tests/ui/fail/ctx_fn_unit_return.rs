//! No return type at all.
use ctx::{ctx_fn, Context};

#[ctx_fn]
fn log(ctx: Context, line: &str) {
    println!("{line}");
}

fn main() {}
