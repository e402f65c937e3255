//! The user's own fns and methods named `spawn`, taking the context by
//! reference: nothing is matched by name.
use ctx::{ctx_fn, Context, Error};

fn spawn(ctx: &Context) -> usize {
    ctx.to_string().len()
}

struct Pool;

impl Pool {
    fn spawn(&self, ctx: &Context, jobs: usize) -> usize {
        if ctx.is_done() {
            0
        } else {
            jobs
        }
    }
}

#[ctx_fn]
fn handler(ctx: Context, pool: &Pool) -> Result<usize, Error> {
    Ok(spawn(&ctx) + pool.spawn(&ctx, 3))
}

fn main() {
    let ctx = Context::background();
    let expected = ctx.to_string().len() + 3;
    assert_eq!(handler(ctx, &Pool), Ok(expected));
}
