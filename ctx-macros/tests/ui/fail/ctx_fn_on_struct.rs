//! `#[ctx_fn]` on something that is not a fn.
use ctx::ctx_fn;

#[ctx_fn]
pub struct Handler {
    pub name: String,
}

fn main() {
    let _ = Handler {
        name: String::new(),
    };
}
