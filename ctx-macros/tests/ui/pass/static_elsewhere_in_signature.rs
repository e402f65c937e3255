//! `'static` where it does not make the context `'static` compiles: in
//! other parameters, on other lifetimes and type parameters, in a
//! `#[detached]` fn's context (work that outlives the request by design),
//! and on other types named `Context`.
use std::sync::mpsc::Sender;

use ctx::{ctx_fn, detached, Context, Error};

#[ctx_fn]
async fn other_params(ctx: Context, name: &'static str, log: &Sender<Context<'static>>) -> Result<String, Error> {
    log.send(ctx.without_cancel()).unwrap();
    tokio::task::yield_now().await;
    Ok(format!("{name}: {}", ctx.is_done()))
}

#[ctx_fn]
async fn other_bounds<'a, 'b: 'static, T: Send + 'static>(
    ctx: Context<'a>,
    label: &'b str,
    value: T,
) -> Result<(&'b str, T), Error>
where
    'a: 'a,
    T: Clone + 'static,
{
    tokio::task::yield_now().await;
    let _ = ctx.is_done();
    Ok((label, value))
}

#[detached]
async fn publish(ctx: Context<'static>, message: String) -> Result<String, Error> {
    tokio::task::yield_now().await;
    Ok(format!("{message}: {}", ctx.is_done()))
}

#[ctx_fn]
fn poll_once(ctx: Context, cx: &mut std::task::Context<'static>) -> Result<bool, Error> {
    let _ = cx.waker();
    Ok(ctx.is_done())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (tx, rx) = std::sync::mpsc::channel();
    let ctx = Context::background();
    assert_eq!(other_params(ctx.clone(), "a", &tx).await, Ok("a: false".to_owned()));
    assert!(rx.recv().is_ok());
    assert_eq!(other_bounds(ctx.clone(), "b", 1).await, Ok(("b", 1)));
    assert_eq!(publish(ctx.clone(), "c".to_owned()).await.unwrap(), Ok("c: false".to_owned()));
    let _ = poll_once;
}
