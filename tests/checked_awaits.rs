//! Every form of `.await` in a `#[ctx_fn]` body is a cancellation point:
//! plain, inside `select!`, `join!`, `try_join!` and other macros' arguments,
//! after any rebinding of `ctx` (`let`, a `match` arm, `if let`, `while let`,
//! `for`, assignment) in every body shape, and in a loop of always-ready
//! awaits.
//! Each test runs on tokio's paused clock, so "ends at 100 ms" is exact.

use std::future::{ready, Future};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};
use tokio::time::{sleep, Instant};

const BUDGET: Duration = Duration::from_millis(100);
const SLOW: Duration = Duration::from_secs(10);

/// Runs `f` under a 100 ms budget; returns its result and how long it took.
async fn under_budget<F, Fut, T>(f: F) -> (Result<T, Error>, Duration)
where
    F: FnOnce(Context<'static>) -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let (ctx, _cancel) = Context::background().with_timeout(BUDGET);
    let start = Instant::now();
    let result = f(ctx).await;
    (result, start.elapsed())
}

#[ctx_fn]
async fn plain(ctx: Context) -> Result<(), Error> {
    sleep(SLOW).await;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_plain_await() {
    assert_eq!(
        under_budget(plain).await,
        (Err(Error::DeadlineExceeded), BUDGET)
    );
}

#[ctx_fn]
async fn in_select(ctx: Context, log: &Mutex<Vec<&'static str>>) -> Result<(), Error> {
    tokio::select! {
        _ = sleep(SLOW) => log.lock().unwrap().push("slept"),
        _ = std::future::pending::<()>() => unreachable!(),
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_await_inside_select() {
    let log = Mutex::new(Vec::new());
    let outcome = under_budget(|ctx| async move { in_select(ctx, &log).await }).await;
    assert_eq!(outcome, (Err(Error::DeadlineExceeded), BUDGET));
}

#[ctx_fn]
async fn in_join(ctx: Context) -> Result<(), Error> {
    let ((), ()) = tokio::join!(sleep(SLOW), sleep(BUDGET / 2));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_await_inside_join() {
    assert_eq!(
        under_budget(in_join).await,
        (Err(Error::DeadlineExceeded), BUDGET)
    );
}

#[ctx_fn]
async fn in_try_join(ctx: Context) -> Result<(), Error> {
    tokio::try_join!(
        async {
            sleep(SLOW).await;
            Ok::<_, Error>(())
        },
        async { Ok(()) }
    )?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_await_inside_try_join() {
    assert_eq!(
        under_budget(in_try_join).await,
        (Err(Error::DeadlineExceeded), BUDGET)
    );
}

#[ctx_fn]
async fn in_macro_arguments(ctx: Context) -> Result<String, Error> {
    let text = format!("{:?}", sleep(SLOW).await);
    assert!(text.is_empty(), "{}", sleep(SLOW).await == ());
    Ok(text)
}

#[tokio::test(start_paused = true)]
async fn an_await_inside_a_macro_argument() {
    assert_eq!(
        under_budget(in_macro_arguments).await,
        (Err(Error::DeadlineExceeded), BUDGET)
    );
}

#[ctx_fn]
async fn in_a_user_macro(ctx: Context) -> Result<(), Error> {
    macro_rules! slow_call {
        () => {
            sleep(SLOW).await
        };
    }
    slow_call!();
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_await_inside_a_user_macro() {
    assert_eq!(
        under_budget(in_a_user_macro).await,
        (Err(Error::DeadlineExceeded), BUDGET)
    );
}

#[ctx_fn]
async fn shadowed(ctx: Context) -> Result<(), Error> {
    let (ctx, _cancel) = ctx.with_timeout(BUDGET);
    sleep(SLOW).await;
    drop(ctx);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_await_after_a_shadowing_derivation_races_the_shadow() {
    let start = Instant::now();
    assert_eq!(
        shadowed(Context::background()).await,
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(start.elapsed(), BUDGET);
}

/// Moves its context into an awaited call, and shadows it after: the
/// awaits race a clone taken at entry, then one of the shadow.
#[ctx_fn]
async fn moved_then_shadowed(ctx: Context) -> Result<(), Error> {
    let derived = ctx.clone();
    takes_context(ctx).await?;
    let (ctx, _cancel) = derived.with_timeout(BUDGET);
    sleep(SLOW).await;
    takes_context(ctx).await
}

async fn takes_context(ctx: Context<'_>) -> Result<(), Error> {
    ctx.err().map_or(Ok(()), Err)
}

#[tokio::test(start_paused = true)]
async fn a_body_that_moves_its_context_still_races_the_shadow() {
    let start = Instant::now();
    assert_eq!(
        moved_then_shadowed(Context::background()).await,
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(start.elapsed(), BUDGET);
}

#[ctx_fn]
async fn ready_loop(
    ctx: Context,
    cancel: ctx::CancelHandle,
    spins: &AtomicUsize,
) -> Result<(), Error> {
    loop {
        ready(()).await;
        if spins.fetch_add(1, Ordering::SeqCst) == 2 {
            // No await here is ever pending, so only the check each await
            // makes before polling can stop the loop.
            cancel.cancel();
        }
    }
}

#[tokio::test]
async fn a_loop_of_ready_awaits_stops_at_the_next_await() {
    let (ctx, cancel) = Context::background().with_cancel();
    let spins = AtomicUsize::new(0);
    assert_eq!(ready_loop(ctx, cancel, &spins).await, Err(Error::Canceled));
    assert_eq!(spins.load(Ordering::SeqCst), 3);
}

#[ctx_fn]
async fn shielded_in_select(ctx: Context, log: &Mutex<Vec<&'static str>>) -> Result<(), Error> {
    #[uncancelable]
    tokio::select! {
        _ = sleep(BUDGET * 2) => log.lock().unwrap().push("flushed"),
    }
    tokio::select! {
        _ = sleep(SLOW) => log.lock().unwrap().push("unreachable"),
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_uncancelable_select_finishes_and_the_next_one_is_checked() {
    let log = Mutex::new(Vec::new());
    let outcome = under_budget(|ctx| async { shielded_in_select(ctx, &log).await }).await;
    assert_eq!(outcome, (Err(Error::DeadlineExceeded), BUDGET * 2));
    assert_eq!(*log.lock().unwrap(), ["flushed"]);
}

/// Runs `f` on a context without a deadline, whose body rebinds `ctx` to a
/// child with a 100 ms budget before a slow await: it must end with the
/// child's deadline, at 100 ms.
async fn stops_at_the_childs_deadline<F, Fut>(f: F)
where
    F: FnOnce(Context<'static>) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let start = Instant::now();
    assert_eq!(f(Context::background()).await, Err(Error::DeadlineExceeded));
    assert_eq!(start.elapsed(), BUDGET);
}

/// For each way of rebinding `ctx`, a module with the body in the four
/// shapes the macro expands differently: plain, calling a macro (raced as
/// a whole by a guard), moving its context (a closure that captures it:
/// the awaits race clones), and both; and a test that each stops at the
/// deadline of the child `ctx` was rebound to.
macro_rules! rebinding {
    ($($form:ident: |$ctx:ident| { $($body:tt)* })*) => {$(
        mod $form {
            use super::*;

            #[ctx_fn]
            #[allow(unused_mut)]
            async fn plain(mut $ctx: Context) -> Result<(), Error> {
                $($body)*
                Ok(())
            }

            #[ctx_fn]
            #[allow(unused_mut)]
            async fn calling_a_macro(mut $ctx: Context) -> Result<(), Error> {
                assert!(!$ctx.is_done());
                $($body)*
                Ok(())
            }

            #[ctx_fn]
            #[allow(unused_mut)]
            async fn moving(mut $ctx: Context) -> Result<(), Error> {
                let peek = || $ctx.is_done();
                let _ = peek();
                $($body)*
                Ok(())
            }

            #[ctx_fn]
            #[allow(unused_mut)]
            async fn moving_and_calling_a_macro(mut $ctx: Context) -> Result<(), Error> {
                let peek = || $ctx.is_done();
                assert!(!peek());
                $($body)*
                Ok(())
            }

            #[tokio::test(start_paused = true)]
            async fn an_await_races_the_rebound_context_in_every_body_shape() {
                stops_at_the_childs_deadline(plain).await;
                stops_at_the_childs_deadline(calling_a_macro).await;
                stops_at_the_childs_deadline(moving).await;
                stops_at_the_childs_deadline(moving_and_calling_a_macro).await;
            }
        }
    )*};
}

rebinding! {
    let_in_a_match_arm: |ctx| {
        match ctx.deadline() {
            Some(_) => unreachable!(),
            None => {
                let (ctx, _cancel) = ctx.with_timeout(BUDGET);
                sleep(SLOW).await;
                let _ = ctx.err();
            }
        }
    }
    match_arm_pattern: |ctx| {
        match Some(ctx.with_timeout(BUDGET)) {
            Some((ctx, _cancel)) => {
                sleep(SLOW).await;
                let _ = ctx.err();
            }
            None => unreachable!(),
        }
    }
    match_arm_pattern_without_a_block: |ctx| {
        match Some(ctx.with_timeout(BUDGET)) {
            Some((ctx, _cancel)) if !ctx.is_done() => sleep(SLOW).await,
            _ => unreachable!(),
        }
    }
    if_let: |ctx| {
        if let Some((ctx, _cancel)) = Some(ctx.with_timeout(BUDGET)) {
            sleep(SLOW).await;
            let _ = ctx.err();
        }
    }
    while_let: |ctx| {
        let mut once = Some(ctx.with_timeout(BUDGET));
        while let Some((ctx, _cancel)) = once.take() {
            sleep(SLOW).await;
            let _ = ctx.err();
        }
    }
    for_loop: |ctx| {
        for (ctx, _cancel) in [ctx.with_timeout(BUDGET)] {
            sleep(SLOW).await;
            let _ = ctx.err();
        }
    }
    assignment: |ctx| {
        let (child, _cancel) = ctx.with_timeout(BUDGET);
        ctx = child;
        sleep(SLOW).await;
    }
    assignment_in_a_branch: |ctx| {
        let (child, _cancel) = ctx.with_timeout(BUDGET);
        if !child.is_done() {
            ctx = child;
        }
        sleep(SLOW).await;
    }
}

/// A loop of always-ready awaits that sleeps its thread a little each turn
/// and never yields to its runtime: its deadline's timer cannot run. How
/// many turns it took; it gives up after a second's worth of turns.
#[ctx_fn]
async fn spin_without_yielding(ctx: Context, turns: &AtomicUsize) -> Result<(), Error> {
    for _ in 0..10_000 {
        ready(()).await;
        turns.fetch_add(1, Ordering::Relaxed);
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok(())
}

/// On a current-thread runtime busy with the loop, the deadline's timer
/// never fires; the checked awaits read the clock now and then, and stop
/// the loop once its deadline has passed.
#[test]
fn a_loop_of_ready_awaits_stops_at_its_deadline_on_a_busy_current_thread_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let turns = AtomicUsize::new(0);
    let result = runtime.block_on(async {
        let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(20));
        spin_without_yielding(ctx, &turns).await
    });
    assert_eq!(result, Err(Error::DeadlineExceeded));
    assert!(
        turns.load(Ordering::Relaxed) < 10_000,
        "stopped by the deadline"
    );
}

/// The same polled by no runtime at all (the deadline armed on one that is
/// never driven): one poll runs the loop to its deadline.
#[test]
fn a_loop_of_ready_awaits_stops_at_its_deadline_on_any_executor() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (ctx, _cancel) = {
        let _entered = runtime.enter();
        Context::background().with_timeout_cause(Duration::from_millis(20), "spun too long")
    };
    let turns = AtomicUsize::new(0);
    let spinning = std::pin::pin!(spin_without_yielding(ctx.clone(), &turns));
    let polled = spinning.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
    assert_eq!(polled, std::task::Poll::Ready(Err(Error::DeadlineExceeded)));
    assert_eq!(
        ctx.cause().unwrap().to_string(),
        "spun too long",
        "the deadline's own cause"
    );
}
