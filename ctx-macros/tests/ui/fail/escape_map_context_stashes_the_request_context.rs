//! `map_context` hands its closure the request's context with a scope it
//! cannot keep: stashing it for later does not compile.
use std::sync::Mutex;

use ctx::http::RequestContextExt;
use ctx::Context;

static SEEN: Mutex<Option<Context<'static>>> = Mutex::new(None);

fn middleware(request: &mut http::Request<()>) {
    let _ = request.map_context(|ctx| {
        *SEEN.lock().unwrap() = Some(ctx.clone());
        ctx
    });
}

fn main() {}
