//! Other types named `Context`, written by their path, are ordinary
//! parameters: `#[ctx_fn]` inserts its own `ctx` first.
use std::future::Future;
use std::pin::pin;
use std::task::{Poll, Waker};

use ctx::{ctx_fn, Error};

mod otel {
    pub struct Context {
        pub trace_id: u64,
    }
}

#[ctx_fn]
fn poll_once(
    cx: &mut std::task::Context<'_>,
    fut: impl Future<Output = u32>,
) -> Result<Option<u32>, Error> {
    Ok(match pin!(fut).poll(cx) {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    })
}

#[ctx_fn]
async fn export(span: otel::Context) -> Result<String, Error> {
    std::future::ready(()).await;
    Ok(format!("{} in {}", span.trace_id, ctx))
}

#[ctx_fn]
fn trace_of(span: &otel::Context, offset: u64) -> Result<u64, Error> {
    Ok(span.trace_id + offset)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ctx = ctx::Context::background();
    let mut cx = std::task::Context::from_waker(Waker::noop());
    assert_eq!(poll_once(ctx.clone(), &mut cx, async { 5 }), Ok(Some(5)));
    let span = otel::Context { trace_id: 9 };
    assert_eq!(trace_of(ctx.clone(), &span, 1), Ok(10));
    assert_eq!(
        export(ctx, span).await,
        Ok("9 in context.Background".to_owned())
    );
}
