//! `Context::merge`: done when either context is, with the earlier
//! deadline, the cause of whichever ended first, the first context's
//! values, and a cancel handle of its own. Deadlines run on tokio's paused
//! clock.

use std::time::Duration;

use ctx_core::testing::registrations;
use ctx_core::{Context, Error};
use tokio::time::advance;

#[derive(Debug, PartialEq)]
struct TraceId(&'static str);

#[derive(Debug, PartialEq)]
struct UserId(u64);

fn cause_text(ctx: &Context<'_>) -> Option<String> {
    ctx.cause().map(|cause| cause.to_string())
}

#[test]
fn either_side_cancels_the_merge_and_its_descendants() {
    for first_ends in [true, false] {
        let (a, cancel_a) = Context::background().with_cancel_cause();
        let (b, cancel_b) = Context::background().with_cancel_cause();
        let (merged, _cancel) = a.merge(&b);
        let (child, _cancel_child) = merged.with_value(UserId(1)).with_cancel();
        assert_eq!(merged.err(), None);

        if first_ends {
            cancel_a.cancel("a ended");
        } else {
            cancel_b.cancel("b ended");
        }
        let expected = if first_ends { "a ended" } else { "b ended" };
        for ctx in [&merged, &child] {
            assert_eq!(ctx.err(), Some(Error::Canceled), "{ctx}");
            assert_eq!(cause_text(ctx).as_deref(), Some(expected), "{ctx}");
        }
        let (other, other_ended) = if first_ends { (&b, &a) } else { (&a, &b) };
        assert_eq!(other.err(), None, "the merge never reaches the other side");
        assert!(other_ended.is_done());
        assert_eq!(
            registrations(other),
            0,
            "the merge left the side that did not end"
        );
    }
}

#[test]
fn the_cause_is_the_one_of_whichever_ended_first() {
    let (a, cancel_a) = Context::background().with_cancel_cause();
    let (b, cancel_b) = Context::background().with_cancel_cause();
    let (merged, _cancel) = a.merge(&b);
    cancel_b.cancel("b first");
    cancel_a.cancel("a second");
    assert_eq!(cause_text(&merged).as_deref(), Some("b first"));

    let (a, cancel_a) = Context::background().with_cancel_cause();
    let (b, cancel_b) = Context::background().with_cancel_cause();
    let (merged, _cancel) = a.merge(&b);
    cancel_a.cancel("a first");
    cancel_b.cancel("b second");
    assert_eq!(cause_text(&merged).as_deref(), Some("a first"));
}

#[test]
fn values_come_from_the_first_context_only() {
    let a = Context::background().with_value(TraceId("request"));
    let b = Context::background()
        .with_value(TraceId("server"))
        .with_value(UserId(9));
    let (merged, _cancel) = a.merge(&b);
    assert_eq!(merged.value::<TraceId>(), Some(&TraceId("request")));
    assert_eq!(merged.value::<UserId>(), None);
}

#[tokio::test(start_paused = true)]
async fn the_deadline_is_the_earlier_one_and_passing_it_is_deadline_exceeded() {
    // The second context's deadline is earlier: the merge has it, and ends
    // with its error and cause when it passes.
    let (a, _ca) = Context::background().with_timeout(Duration::from_secs(10));
    let (b, _cb) =
        Context::background().with_timeout_cause(Duration::from_secs(1), "server budget spent");
    let (merged, _cancel) = a.merge(&b);
    assert_eq!(merged.deadline(), b.deadline());
    advance(Duration::from_millis(999)).await;
    assert_eq!(merged.err(), None);
    assert_eq!(merged.done().await, Error::DeadlineExceeded);
    assert_eq!(cause_text(&merged).as_deref(), Some("server budget spent"));
    assert_eq!(a.err(), None);

    // The first context's deadline is earlier: the merge inherits it.
    let (a, _ca) = Context::background().with_timeout(Duration::from_secs(1));
    let (b, _cb) = Context::background().with_timeout(Duration::from_secs(10));
    let (merged, _cancel) = a.merge(&b);
    assert_eq!(merged.deadline(), a.deadline());
    assert_eq!(merged.done().await, Error::DeadlineExceeded);
    assert_eq!(b.err(), None);

    // A child of the merge never extends its deadline.
    let (a, _ca) = Context::background().with_cancel();
    let (b, _cb) = Context::background().with_timeout(Duration::from_secs(1));
    let (merged, _cancel) = a.merge(&b);
    let (child, _cancel_child) = merged.with_timeout(Duration::from_secs(5));
    assert_eq!(child.deadline(), b.deadline());
    assert_eq!(child.done().await, Error::DeadlineExceeded);
}

#[test]
fn cancelling_the_merge_touches_neither_side_and_leaves_nothing_in_them() {
    let (a, _ca) = Context::background().with_cancel();
    let (b, _cb) = Context::background().with_value(UserId(2)).with_cancel();
    let (merged, cancel) = a.merge(&b);
    assert_eq!(registrations(&a), 1, "the merge is a child of a");
    assert_eq!(registrations(&b), 1, "and registered with b");

    cancel.cancel();
    assert_eq!(merged.err(), Some(Error::Canceled));
    assert_eq!((a.err(), b.err()), (None, None));
    assert_eq!(registrations(&a), 0);
    assert_eq!(registrations(&b), 0);
}

#[test]
fn dropping_the_merge_leaves_nothing_in_either_side() {
    let (a, _ca) = Context::background().with_cancel();
    let (b, _cb) = Context::background().with_cancel();
    let (merged, cancel) = a.merge(&b);
    let (grandchild, keep) = merged.with_cancel();
    drop((merged, cancel));
    assert!(
        !grandchild.is_done(),
        "dropping the merge's handle does not end what was derived from it"
    );
    assert_eq!(registrations(&b), 1, "the merge lives in its child");
    drop((grandchild, keep));
    assert_eq!(registrations(&a), 0);
    assert_eq!(registrations(&b), 0, "released with its last owner");
}

#[test]
fn a_merge_of_done_contexts_is_done_at_once() {
    let (done_a, cancel_a) = Context::background().with_cancel_cause();
    cancel_a.cancel("a was done");
    let (done_b, cancel_b) = Context::background().with_cancel_cause();
    cancel_b.cancel("b was done");
    let (live, _keep) = Context::background().with_cancel();

    for (first, second, cause) in [
        (&done_a, &live, "a was done"),
        (&live, &done_b, "b was done"),
        (&done_a, &done_b, "a was done"),
    ] {
        let (merged, _cancel) = first.merge(second);
        assert_eq!(merged.err(), Some(Error::Canceled), "{merged}");
        assert_eq!(cause_text(&merged).as_deref(), Some(cause), "{merged}");
    }
    assert_eq!(registrations(&live), 0, "a done merge keeps no entry");
}

#[test]
fn merging_with_a_context_that_is_never_done_is_a_plain_child() {
    let (a, cancel_a) = Context::background().with_cancel();
    let (merged, _cancel) = a.merge(&Context::background().with_value(UserId(3)));
    assert_eq!(merged.deadline(), None);
    assert_eq!(
        registrations(&a),
        0,
        "like a plain child, it registers only once something waits on it"
    );
    cancel_a.cancel();
    assert_eq!(merged.err(), Some(Error::Canceled));

    let (b, cancel_b) = Context::background().with_cancel();
    let (merged, _cancel) = Context::todo().merge(&b);
    cancel_b.cancel();
    assert_eq!(merged.err(), Some(Error::Canceled));
}

#[test]
fn a_context_merged_with_itself_ends_with_it_and_leaves_nothing() {
    let (a, cancel_a) = Context::background().with_cancel_cause();
    let (merged, cancel) = a.merge(&a);
    assert_eq!(registrations(&a), 2);
    cancel.cancel();
    assert_eq!(registrations(&a), 0);
    assert_eq!(merged.err(), Some(Error::Canceled));

    let (merged, _cancel) = a.merge(&a);
    cancel_a.cancel("a");
    assert_eq!(cause_text(&merged).as_deref(), Some("a"));
}

#[tokio::test]
async fn waiters_on_the_merge_wake_when_the_second_side_ends() {
    let (a, _ca) = Context::background().with_cancel();
    let (b, cancel_b) = Context::background().with_cancel();
    let (merged, _cancel) = a.merge(&b);
    let waiter = tokio::spawn(merged.done_owned());
    let runner = {
        let merged = merged.clone();
        tokio::spawn(async move { merged.run(std::future::pending::<()>()).await })
    };
    tokio::task::yield_now().await;
    cancel_b.cancel();
    assert_eq!(waiter.await.unwrap(), Error::Canceled);
    assert_eq!(runner.await.unwrap(), Err(Error::Canceled));
    assert_eq!(
        registrations(&merged),
        0,
        "only waiters were left, and they are gone"
    );
}

#[test]
fn after_funcs_on_the_merge_run_when_either_side_ends() {
    let (a, _ca) = Context::background().with_cancel();
    let (b, cancel_b) = Context::background().with_cancel();
    let (merged, _cancel) = a.merge(&b);
    let (ran_tx, ran_rx) = std::sync::mpsc::channel();
    let _handle = merged.after_func(move || ran_tx.send(()).unwrap());
    cancel_b.cancel();
    // After-funcs run off the canceller's stack: wait for it, bounded.
    assert_eq!(
        ran_rx.recv_timeout(std::time::Duration::from_secs(10)),
        Ok(()),
        "the merge's after-func ran once its second side was canceled"
    );
}

#[test]
fn display_shows_the_second_context_in_parentheses() {
    let (a, _ca) = Context::todo().with_cancel();
    let (b, _cb) = Context::background().with_value(UserId(1)).with_cancel();
    let (merged, _cancel) = a.merge(&b);
    let (shutdown, _cs) = Context::background().with_cancel();
    let (twice, _cancel_twice) = merged.with_value(TraceId("t")).merge(&shutdown.merge(&b).0);
    assert_eq!(
        merged.to_string(),
        "context.TODO.WithCancel.Merge(context.Background.WithValue(UserId).WithCancel)"
    );
    assert_eq!(
        twice.to_string(),
        "context.TODO.WithCancel.Merge(context.Background.WithValue(UserId).WithCancel)\
         .WithValue(TraceId)\
         .Merge(context.Background.WithCancel.Merge(context.Background.WithValue(UserId).WithCancel))"
    );
}

/// Merges nested through their second context, far deeper than a stack
/// frame budget: they print, cancel (one walk after the other) and drop
/// without recursion. Run on a small stack.
#[test]
fn merges_nested_to_any_depth_neither_recurse_nor_overflow() {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let (root, cancel) = Context::background().with_cancel();
            let (first, _keep) = Context::background().with_cancel();
            let mut ctx = root.clone();
            let mut handles = Vec::new();
            for _ in 0..100_000 {
                let (merged, handle) = first.merge(&ctx);
                handles.push(handle);
                ctx = merged;
            }
            assert!(ctx.to_string().starts_with(
                "context.Background.WithCancel.Merge(context.Background.WithCancel.Merge("
            ));
            cancel.cancel();
            assert_eq!(ctx.err(), Some(Error::Canceled));
            assert_eq!(registrations(&first), 0, "every merge left `first`");
            drop(handles);
            drop(ctx);
            assert_eq!(registrations(&root), 0);
        })
        .unwrap()
        .join()
        .expect("no stack overflow");
}
