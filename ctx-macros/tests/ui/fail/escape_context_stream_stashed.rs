//! A streaming body's context (`ctx.stream`) sent out of the stream to a
//! task that outlives it.
use ctx::{Context, Error};
use futures_util::stream;

fn body(ctx: Context<'_>) {
    let _body = ctx.stream(|ctx| {
        tokio::spawn(async move { ctx.done().await });
        Box::pin(stream::empty::<Result<u8, Error>>())
    });
}

fn main() {}
