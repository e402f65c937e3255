//! Spawned work whose handle is kept, or that does not capture the context,
//! is structured and compiles inside `#[ctx_fn]`.

use ctx::{ctx_fn, Context, Error};

async fn work(ctx: Context) -> usize {
    ctx.to_string().len()
}

#[ctx_fn]
async fn handler(ctx: Context) -> Result<usize, Error> {
    // Kept and awaited.
    let handle = tokio::spawn(work(ctx.clone()));
    let a = handle.await.unwrap();
    // Awaited in place.
    let b = tokio::spawn(work(ctx.clone())).await.unwrap();
    // Detached explicitly: values kept, cancellation dropped.
    tokio::spawn(work(ctx.without_cancel()));
    let detached = ctx.without_cancel();
    tokio::spawn(work(detached));
    // Captures nothing of the context, only facts about it.
    let was_done = ctx.is_done();
    std::thread::spawn(move || println!("tick {was_done}"));
    // Threads joined before returning.
    let joined = std::thread::spawn({
        let ctx = ctx.clone();
        move || ctx.is_done()
    })
    .join()
    .unwrap();
    assert!(!joined);
    Ok(a + b)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(handler(Context::background()).await.unwrap(), 36);
}
