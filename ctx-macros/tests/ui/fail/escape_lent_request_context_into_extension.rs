//! A middleware stores the lent request context back into the request's
//! extensions as a plain `Context`: extensions hold `'static` values only.
use ctx::http::RequestContextExt;

fn middleware(mut request: http::Request<()>) {
    let ctx = request.context().expect("inside ContextLayer");
    let child = ctx.with_value(7_u32);
    request.extensions_mut().insert(child);
}

fn main() {}
