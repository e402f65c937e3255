//! A `#[ctx_fn]` future is `Send` when its parameters are, as a plain
//! `async fn`'s is: `Sync` is not also required (a `Cell`, a generic
//! `T: Send`), so it can be spawned.
use std::cell::Cell;

use ctx::{ctx_fn, Context, Error};
use tokio::task::JoinHandle;

#[ctx_fn]
async fn count(ctx: Context, hits: Cell<u32>) -> Result<u32, Error> {
    hits.set(hits.get() + 1);
    tokio::task::yield_now().await;
    Ok(hits.get())
}

#[ctx_fn]
async fn measure<T: Send>(ctx: &Context, item: T) -> Result<usize, Error> {
    tokio::task::yield_now().await;
    Ok(std::mem::size_of_val(&item))
}

fn spawn_measure<T: Send + 'static>(item: T) -> JoinHandle<Result<usize, Error>> {
    tokio::spawn(async move { measure(&Context::background(), item).await })
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let counted = tokio::spawn(count(Context::background(), Cell::new(1)));
    assert_eq!(counted.await.unwrap(), Ok(2));
    assert_eq!(spawn_measure([0u8; 3]).await.unwrap(), Ok(3));
}
