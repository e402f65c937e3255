//! `#[ctx_fn]` on a trait impl method, the trait declaring
//! `ctx: Context<'_>` (native `async fn` in traits).
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};

trait Store {
    async fn get(&self, ctx: Context<'_>, key: u32) -> Result<u32, Error>;
    fn len(&self, ctx: &Context<'_>) -> Result<usize, Error>;
}

struct Slow(Vec<u32>);

impl Store for Slow {
    #[ctx_fn]
    async fn get(&self, ctx: Context<'_>, key: u32) -> Result<u32, Error> {
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(self.0[key as usize])
    }

    #[ctx_fn]
    fn len(&self, ctx: &Context) -> Result<usize, Error> {
        Ok(self.0.len())
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let store = Slow(vec![10, 20]);
    let ctx = Context::background();
    assert_eq!(store.get(ctx.clone(), 1).await, Ok(20));
    assert_eq!(store.len(&ctx), Ok(2));
    let (ctx, _cancel) = ctx.with_timeout(Duration::from_millis(100));
    assert_eq!(store.get(ctx, 1).await, Err(Error::DeadlineExceeded));
}
