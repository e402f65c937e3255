//! The child `ctx.spawn` hands its work, stashed in a static for later.
use std::sync::Mutex;

use ctx::Context;

static LATER: Mutex<Vec<Context<'static>>> = Mutex::new(Vec::new());

fn accept(ctx: Context<'_>) {
    let _connection = ctx.spawn(|child| {
        Box::pin(async move {
            LATER.lock().unwrap().push(child);
        })
    });
}

fn main() {}
