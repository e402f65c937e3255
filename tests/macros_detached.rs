//! Runtime behaviour of `#[detached]`: values without cancellation, its own
//! budget, the tracker it registers with (scoped, so these tests share a
//! binary), and how its failures are counted and logged.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ctx::{ctx_fn, detached, Context, DetachedTracker, Error};

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

#[detached]
async fn publish_after(ctx: Context, secs: u64, published: Arc<AtomicUsize>) -> Result<(), Error> {
    tokio::time::sleep(Duration::from_secs(secs)).await;
    published.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

/// A context carrying a tracker of its own, as a server's root does.
fn tracked() -> (Context<'static>, DetachedTracker) {
    let tracker = DetachedTracker::new();
    (Context::background().with_value(tracker.clone()), tracker)
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_outstanding_detached_work_within_its_bound() {
    let (root, tracker) = tracked();
    let published = Arc::new(AtomicUsize::new(0));
    let (request, cancel) = root.with_cancel();
    for secs in 1..=3 {
        publish_after(request.clone(), secs, published.clone());
    }
    cancel.cancel();
    assert_eq!(tracker.running(), 3);

    let start = tokio::time::Instant::now();
    let (shutdown, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
    let report = tracker.drain(&shutdown).await;
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!((report.finished, report.running), (3, 0), "{report}");
    assert!(report.is_clean(), "{report}");
    assert_eq!(published.load(Ordering::SeqCst), 3, "a publish was lost");

    // The bound holds when work outlasts it, and the report says so.
    publish_after(root.clone(), 60, published.clone());
    let (shutdown, _cancel) = Context::background().with_timeout(Duration::from_secs(5));
    let report = tracker.drain(&shutdown).await;
    assert_eq!((report.finished, report.running), (3, 1), "{report}");
    assert_eq!(published.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn detached_work_registers_with_the_tracker_its_context_carries() {
    let (server_a, a) = tracked();
    let (server_b, b) = tracked();
    let published = Arc::new(AtomicUsize::new(0));
    // Deep under the root, the tracker is still found.
    let (request, _cancel) = server_a.with_value("request value").with_cancel();
    publish_after(request, 1, published.clone());
    publish_after(server_b, 60, published.clone());
    assert_eq!((a.running(), b.running()), (1, 1));

    // Draining one server waits for its own work only.
    let start = tokio::time::Instant::now();
    let (shutdown, _cancel) = Context::background().with_timeout(Duration::from_secs(10));
    let report = a.drain(&shutdown).await;
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    assert_eq!((report.finished, report.running), (1, 0), "{report}");
    assert_eq!(b.report().running, 1);

    // The tracker a context carries is found and drained through it, too.
    let (bound, _cancel) = Context::background()
        .with_value(b.clone())
        .with_timeout(Duration::from_secs(120));
    let report = DetachedTracker::of(&bound).drain(&bound).await;
    assert_eq!(report.running, 0, "{report}");
    assert_eq!(b.report().finished, 1);
}

/// A publish's error: the context's, or the broker's.
type PublishError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone, Copy, Debug)]
enum How {
    Succeed,
    Fail,
    /// Outlasts its 5 s timeout: the 8 s publish.
    Linger,
    Panic,
}

#[detached(timeout = "5s")]
async fn outcome(ctx: Context, how: How) -> Result<(), PublishError> {
    let secs = if let How::Linger = how { 8 } else { 1 };
    tokio::time::sleep(Duration::from_secs(secs)).await;
    match how {
        How::Succeed | How::Linger => Ok(()),
        How::Fail => Err("broker unreachable".into()),
        How::Panic => panic!("publisher bug"),
    }
}

/// Fires one detached call of each kind and drops every handle, as a
/// handler does, then drains.
async fn fire_each_kind_and_drain() -> ctx::DrainReport {
    let (root, tracker) = tracked();
    for how in [How::Succeed, How::Fail, How::Linger, How::Panic] {
        outcome(root.clone(), how);
    }
    let (bound, _cancel) = Context::background().with_timeout(Duration::from_secs(60));
    tracker.drain(&bound).await
}

#[tokio::test(start_paused = true)]
async fn the_drain_report_counts_each_ending() {
    let report = fire_each_kind_and_drain().await;
    assert_eq!(
        (
            report.finished,
            report.failed,
            report.timed_out,
            report.panicked,
            report.abandoned,
            report.running
        ),
        (1, 1, 1, 1, 0, 0),
        "{report}"
    );
    assert!(!report.is_clean());
    assert_eq!(
        report.to_string(),
        "1 finished, 1 failed, 1 timed out, 1 panicked, 0 dropped unfinished; 0 still running"
    );
}

#[test]
fn work_dropped_by_its_runtime_shutting_down_is_counted() {
    let (root, tracker) = tracked();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        publish_after(root.clone(), 60, Arc::default());
    });
    assert_eq!(tracker.running(), 1);
    drop(runtime);
    let report = tracker.report();
    assert_eq!((report.abandoned, report.running), (1, 0), "{report}");
}

/// Runs the ignored test `name` of this binary in a process of its own and
/// returns what it wrote to stderr.
fn stderr_of(name: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--nocapture"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// Without a tracing subscriber, each failure of work nobody awaits is one
/// clear line on stderr (with one, see `tests/tracing_detached.rs`).
#[test]
fn failures_of_fire_and_forget_work_are_logged_to_stderr() {
    let stderr = stderr_of("fire_and_forget_failures");
    let mut lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("ctx:")).collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        [
            "ctx: detached `outcome` failed: \"broker unreachable\"",
            "ctx: detached `outcome` panicked: publisher bug",
            "ctx: detached `outcome` timed out after its 5s timeout: DeadlineExceeded",
        ],
        "{stderr}"
    );
}

#[tokio::test(start_paused = true)]
#[ignore = "run by `failures_of_fire_and_forget_work_are_logged_to_stderr`, in a process of its own"]
async fn fire_and_forget_failures() {
    fire_each_kind_and_drain().await;
}
