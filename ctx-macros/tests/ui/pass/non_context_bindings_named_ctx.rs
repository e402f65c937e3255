//! Bindings named `ctx` that are not contexts compile wherever no checked
//! `.await` stands in their scope, in every body shape: a nested block's
//! `let`, a closure parameter, a `match` arm, a `for` pattern. (An await in
//! their scope is `ctx_fn_context_shadowed_then_await`.)
use ctx::{ctx_fn, Context, Error};

async fn takes_context(ctx: Context<'_>) -> Result<u32, Error> {
    ctx.err().map_or(Ok(1), Err)
}

/// Moves its context (the awaits race clones, taken again after each
/// rebinding that an await follows).
#[ctx_fn]
async fn moving(ctx: Context, counts: Vec<u32>) -> Result<u32, Error> {
    let mut total = takes_context(ctx.clone()).await?;
    {
        let ctx = 5;
        total += ctx;
    }
    total += counts.iter().map(|ctx| ctx + 1).sum::<u32>();
    total += match counts.first() {
        Some(ctx) => *ctx,
        None => 0,
    };
    for ctx in &counts {
        total += ctx;
    }
    tokio::task::yield_now().await;
    let ctx = takes_context(ctx).await?;
    Ok(total + ctx)
}

/// Calls a macro (a guard races the body) and moves its context.
#[ctx_fn]
async fn moving_and_calling_a_macro(ctx: Context, counts: Vec<u32>) -> Result<String, Error> {
    let first = takes_context(ctx.clone()).await?;
    if let Some(ctx) = counts.first() {
        assert!(*ctx > 0);
    }
    tokio::task::yield_now().await;
    let moved = takes_context(ctx).await?;
    Ok(format!("{first} {moved}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(moving(Context::background(), vec![1, 2]).await, Ok(1 + 5 + 5 + 1 + 3 + 1));
    assert_eq!(
        moving_and_calling_a_macro(Context::background(), vec![1]).await,
        Ok("1 1".to_owned())
    );
}
