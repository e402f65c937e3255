//! A tower service borrows the request's context from the request
//! (`RequestContextExt::context`) and moves it into a spawned task: the
//! lent context lives as long as the borrow of the request.
use ctx::http::RequestContextExt;

fn call(request: http::Request<()>) {
    let ctx = request.context().expect("inside ContextLayer");
    tokio::spawn(async move {
        let _ = ctx.done().await;
    });
}

fn main() {}
