//! A tonic handler splits its request, borrows the request's context from
//! the extensions (`RequestContextExt::context`) and moves it into a
//! spawned task: the lent context lives as long as the extensions.
use ctx::http::RequestContextExt;
use tonic::{Request, Response, Status};

pub async fn say_hello(request: Request<String>) -> Result<Response<String>, Status> {
    let (_metadata, extensions, name) = request.into_parts();
    let ctx = extensions.context().expect("inside ContextLayer");
    tokio::spawn(async move {
        let _ = ctx.done().await;
    });
    Ok(Response::new(name))
}

fn main() {}
