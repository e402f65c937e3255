//! `std::thread::scope` threads may use the request's context: they end
//! before the call does.
use ctx::{ctx_fn, Context, Error};

#[ctx_fn]
fn sum_shards(ctx: &Context, shards: &[u32]) -> Result<u32, Error> {
    let total = std::thread::scope(|scope| {
        let workers: Vec<_> = shards
            .iter()
            .map(|&shard| scope.spawn(move || if ctx.is_done() { 0 } else { shard * 2 }))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    Ok(total)
}

fn main() {
    let (ctx, cancel) = Context::background().with_cancel();
    assert_eq!(sum_shards(&ctx, &[1, 2, 3]), Ok(12));
    cancel.cancel();
    assert_eq!(sum_shards(&ctx, &[1, 2, 3]), Err(Error::Canceled));
}
