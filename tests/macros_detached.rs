//! Runtime behaviour of `#[detached]`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ctx::{ctx_fn, detached, Context, Error};

#[derive(Debug, PartialEq)]
struct TraceId(&'static str);

#[detached]
async fn publish(ctx: Context, message: String, done: Arc<AtomicBool>) -> Result<String, Error> {
    tokio::time::sleep(Duration::from_secs(2)).await;
    done.store(true, Ordering::SeqCst);
    let trace = ctx.value::<TraceId>().map_or("none", |trace| trace.0);
    Ok(format!("{message} [{trace}] {:?}", ctx.err()))
}

#[ctx_fn]
async fn handler(
    ctx: Context,
    done: Arc<AtomicBool>,
) -> Result<ctx::Detached<Result<String, Error>>, Error> {
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(publish(ctx.clone(), "response".to_owned(), done))
}

#[tokio::test(start_paused = true)]
async fn detached_work_outlives_its_callers_cancellation_with_its_values() {
    let (request, cancel) = Context::background()
        .with_value(TraceId("abc"))
        .with_cancel();
    let done = Arc::new(AtomicBool::new(false));
    let published = handler(request.clone(), done.clone()).await.unwrap();
    cancel.cancel();
    assert_eq!(request.err(), Some(Error::Canceled));
    assert!(!done.load(Ordering::SeqCst));

    let start = tokio::time::Instant::now();
    let message = published.await.expect("no panic").expect("not canceled");
    assert_eq!(message, "response [abc] None");
    assert!(done.load(Ordering::SeqCst));
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_does_not_cancel_the_work() {
    let done = Arc::new(AtomicBool::new(false));
    drop(publish(Context::background(), "x".to_owned(), done.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(done.load(Ordering::SeqCst));
}

#[detached(timeout = "1500ms")]
async fn bounded(ctx: Context, secs: u64) -> Result<u64, Error> {
    tokio::time::sleep(Duration::from_secs(secs)).await;
    Ok(secs)
}

#[tokio::test(start_paused = true)]
async fn a_timeout_gives_detached_work_its_own_budget() {
    // A far later parent deadline is not inherited, only the values.
    let (ctx, _cancel) = Context::background().with_timeout(Duration::from_secs(3600));
    assert_eq!(bounded(ctx.clone(), 1).await.unwrap(), Ok(1));

    let start = tokio::time::Instant::now();
    assert_eq!(
        bounded(ctx.clone(), 2).await.unwrap(),
        Err(Error::DeadlineExceeded)
    );
    assert_eq!(start.elapsed(), Duration::from_millis(1500));

    // A parent already past its deadline does not stop detached work.
    let (expired, _cancel) = Context::background().with_timeout(Duration::ZERO);
    assert_eq!(bounded(expired, 1).await.unwrap(), Ok(1));
}

struct Broker {
    topic: String,
}

impl Broker {
    #[detached]
    async fn send(self: Arc<Self>, ctx: Context, payload: u32) -> Result<String, Error> {
        tokio::task::yield_now().await;
        Ok(format!("{}:{payload}", self.topic))
    }
}

#[tokio::test]
async fn methods_taking_an_owned_self() {
    let broker = Arc::new(Broker {
        topic: "orders".to_owned(),
    });
    let sent = broker.send(Context::background(), 3).await.unwrap();
    assert_eq!(sent, Ok("orders:3".to_owned()));
}

#[detached]
async fn explode(ctx: Context, fail: bool) -> Result<(), Error> {
    tokio::task::yield_now().await;
    if fail {
        panic!("detached boom");
    }
    Ok(())
}

#[tokio::test]
async fn a_panic_is_reported_through_the_handle() {
    let err = explode(Context::background(), true).await.unwrap_err();
    assert!(err.is_panic());
    assert_eq!(err.to_string(), "detached `explode` panicked");
    let payload = err.try_into_panic().unwrap();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"detached boom"));
    // The runtime, and this test, carry on.
    assert_eq!(explode(Context::background(), false).await.unwrap(), Ok(()));
}

#[test]
fn calling_outside_a_runtime_panics_saying_so() {
    // The panic is reported at the call, with or without `tracing`.
    static LOCATION: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info.payload().downcast_ref::<String>();
        if message.is_some_and(|message| message.contains("outside a Tokio runtime")) {
            *LOCATION.lock().unwrap() = info.location().map(|at| at.file().to_owned());
        }
        previous(info);
    }));
    let panic = std::panic::catch_unwind(|| {
        drop(explode(Context::background(), false));
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("`#[detached]` fn `explode` was called outside a Tokio runtime"),
        "{message}"
    );
    assert_eq!(
        LOCATION.lock().unwrap().as_deref(),
        Some(file!()),
        "the panic points at the caller"
    );
}
