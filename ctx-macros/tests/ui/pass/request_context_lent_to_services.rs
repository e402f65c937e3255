//! The legitimate forms around a lent request context: a tower service
//! reads it and awaits under it, a middleware adds a value with
//! `map_context`, a detached copy (`without_cancel`) goes to a spawned
//! task, and a streaming body uses it while it streams.
use std::convert::Infallible;

use ctx::http::{ContextLayer, RequestContextExt};
use ctx::{Context, Error};
use futures_util::{stream, StreamExt};
use http::{Request, Response};
use tower::{service_fn, Layer, ServiceExt};

struct User(&'static str);

async fn lookup(ctx: Context<'_>) -> Result<&'static str, Error> {
    ctx.run(async { "ada" }).await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let inner = service_fn(|mut request: Request<()>| async move {
        request.map_context(|ctx| ctx.with_value(User("ada"))).unwrap();
        let ctx = request.context().unwrap();
        let name = lookup(ctx.clone()).await.unwrap();
        assert_eq!(ctx.value::<User>().map(|user| user.0), Some(name));
        let detached = ctx.without_cancel();
        tokio::spawn(async move { detached.value::<User>().is_some() })
            .await
            .unwrap();
        let body: Vec<_> = ctx
            .stream(|ctx| {
                Box::pin(stream::iter([1, 2]).then(move |n| {
                    let ctx = ctx.clone();
                    async move { ctx.run(async move { n }).await }
                }))
            })
            .collect()
            .await;
        assert_eq!(body, [Ok(1), Ok(2)]);
        Ok::<_, Infallible>(Response::new(String::new()))
    });
    let service = ContextLayer::new(Context::background()).layer(inner);
    service.oneshot(Request::new(())).await.unwrap();
}
