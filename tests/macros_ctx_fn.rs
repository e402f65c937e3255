//! Runtime behaviour of `#[ctx_fn]`.

use std::future::pending;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};

/// Sets its flag when dropped: proof that an in-flight future was dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

async fn never_ready(dropped: Arc<AtomicBool>) {
    let _flag = DropFlag(dropped);
    pending::<()>().await;
}

#[ctx_fn]
async fn wait_forever(ctx: Context, dropped: Arc<AtomicBool>) -> Result<(), Error> {
    never_ready(dropped).await;
    unreachable!("a never-ready future finished")
}

#[tokio::test]
async fn cancel_from_another_task_returns_canceled_and_drops_the_future() {
    let (ctx, cancel) = Context::background().with_cancel();
    let dropped = Arc::new(AtomicBool::new(false));
    let call = tokio::spawn(wait_forever(ctx, dropped.clone()));
    tokio::task::yield_now().await;
    assert!(!call.is_finished());
    tokio::spawn(async move { cancel.cancel() });
    assert_eq!(call.await.unwrap(), Err(Error::Canceled));
    assert!(
        dropped.load(Ordering::SeqCst),
        "the in-flight future leaked"
    );
}

#[tokio::test(start_paused = true)]
async fn deadline_returns_deadline_exceeded_on_time() {
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(3));
    let dropped = Arc::new(AtomicBool::new(false));
    let start = tokio::time::Instant::now();
    assert_eq!(
        wait_forever(ctx, dropped.clone()).await,
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert!(dropped.load(Ordering::SeqCst));
}

#[ctx_fn]
async fn count_runs(ctx: Context, runs: &AtomicUsize) -> Result<(), Error> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[ctx_fn]
fn count_runs_sync(ctx: &Context<'_>, runs: &AtomicUsize) -> Result<(), Error> {
    runs.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[tokio::test]
async fn a_done_context_returns_before_the_body_runs() {
    let runs = AtomicUsize::new(0);
    let (ctx, cancel) = Context::background().with_cancel();
    assert_eq!(count_runs(ctx.clone(), &runs).await, Ok(()));
    assert_eq!(count_runs_sync(&ctx, &runs), Ok(()));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    cancel.cancel();
    assert_eq!(count_runs(ctx.clone(), &runs).await, Err(Error::Canceled));
    assert_eq!(count_runs_sync(&ctx, &runs), Err(Error::Canceled));
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

async fn add(ctx: Context<'_>, a: u32, b: u32) -> u32 {
    assert_eq!(ctx.err(), None);
    a + b
}

#[ctx_fn]
async fn moves_ctx_into_the_awaited_call(ctx: Context) -> Result<u32, Error> {
    let three = add(ctx.clone(), 1, 2).await;
    Ok(add(ctx, three, 4).await)
}

#[tokio::test]
async fn ready_awaits_pass_their_output_through() {
    assert_eq!(
        moves_ctx_into_the_awaited_call(Context::background()).await,
        Ok(7)
    );
}

#[ctx_fn]
async fn inserted_context() -> Result<String, Error> {
    tokio::task::yield_now().await;
    Ok(ctx.to_string())
}

#[tokio::test]
async fn a_fn_without_a_context_gets_one_first() {
    assert_eq!(
        inserted_context(Context::background()).await.unwrap(),
        "context.Background"
    );
    let (ctx, cancel) = Context::background().with_cancel();
    cancel.cancel();
    assert_eq!(inserted_context(ctx).await, Err(Error::Canceled));
}

#[derive(Debug, PartialEq)]
enum AppError {
    Context(Error),
    Parse,
}

impl From<Error> for AppError {
    fn from(err: Error) -> Self {
        AppError::Context(err)
    }
}

struct Service {
    base: u32,
}

impl Service {
    #[ctx_fn]
    async fn method(&self, ctx: Context, input: &str) -> Result<u32, AppError> {
        tokio::task::yield_now().await;
        let n: u32 = input.parse().map_err(|_| AppError::Parse)?;
        Ok(self.base + n)
    }

    #[ctx_fn]
    fn digits<'a>(
        &self,
        ctx: Context<'_>,
        input: &'a str,
    ) -> Result<impl Iterator<Item = u32> + 'a, AppError> {
        Ok(input.chars().filter_map(|c| c.to_digit(10)))
    }
}

trait Lookup {
    async fn lookup(&self, ctx: Context, key: u32) -> Result<u32, AppError>;
}

impl Lookup for Service {
    #[ctx_fn]
    async fn lookup(&self, ctx: Context, key: u32) -> Result<u32, AppError> {
        pending::<()>().await;
        Ok(self.base + key)
    }
}

#[ctx_fn]
async fn generic<T: Clone + Send, E: From<Error>>(ctx: Context, value: T) -> Result<(T, T), E> {
    let copy = async { value.clone() }.await;
    Ok((copy, value))
}

#[tokio::test(start_paused = true)]
async fn methods_trait_impls_generics_and_impl_trait() {
    let service = Service { base: 40 };
    let ctx = Context::background();
    assert_eq!(service.method(ctx.clone(), "2").await, Ok(42));
    assert_eq!(service.method(ctx.clone(), "x").await, Err(AppError::Parse));
    assert_eq!(
        service
            .digits(ctx.clone(), "a1b2")
            .unwrap()
            .collect::<Vec<_>>(),
        [1, 2]
    );
    assert_eq!(generic::<_, Error>(ctx.clone(), 5u8).await, Ok((5, 5)));

    let (short, _cancel) = ctx.with_timeout(Duration::from_millis(10));
    assert_eq!(
        service.lookup(short, 1).await,
        Err(AppError::Context(Error::DeadlineExceeded))
    );
}

#[ctx_fn]
async fn flush(_: Context, flushed: Arc<AtomicBool>) -> Result<(), Error> {
    #[uncancelable]
    tokio::time::sleep(Duration::from_secs(2)).await;
    #[uncancelable]
    let () = tokio::time::sleep(Duration::from_secs(3)).await;
    flushed.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    unreachable!("the second sleep is checked")
}

#[tokio::test(start_paused = true)]
async fn an_uncancelable_statement_finishes_and_the_next_await_is_checked() {
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(1));
    let flushed = Arc::new(AtomicBool::new(false));
    let start = tokio::time::Instant::now();
    assert_eq!(
        flush(ctx, flushed.clone()).await,
        Err(Error::DeadlineExceeded)
    );
    assert!(flushed.load(Ordering::SeqCst));
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[ctx_fn]
async fn awaits_inside_closures_and_blocks(ctx: Context) -> Result<u8, Error> {
    // Rewritten, these awaits would `return` an `Err` out of a closure or
    // block whose output is a `u8`, and the fn would not compile.
    let slow = |secs| async move {
        tokio::time::sleep(Duration::from_secs(secs)).await;
        secs as u8
    };
    let block = async { slow(1).await + 1 };
    Ok(block.await + slow(1).await)
}

#[tokio::test(start_paused = true)]
async fn closures_and_async_blocks_are_raced_as_a_whole() {
    let ctx = Context::background();
    assert_eq!(awaits_inside_closures_and_blocks(ctx).await, Ok(3));
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(1500));
    let start = tokio::time::Instant::now();
    assert_eq!(
        awaits_inside_closures_and_blocks(ctx).await,
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
}

#[ctx_fn]
async fn drain(_: Context, drained: Arc<AtomicUsize>) -> Result<(), Error> {
    #[uncancelable]
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        drained.fetch_add(1, Ordering::SeqCst);
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    unreachable!("the await after the loop is checked")
}

#[tokio::test(start_paused = true)]
async fn an_uncancelable_loop_runs_every_iteration() {
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(1500));
    let drained = Arc::new(AtomicUsize::new(0));
    assert_eq!(
        drain(ctx, drained.clone()).await,
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(drained.load(Ordering::SeqCst), 3);
}
