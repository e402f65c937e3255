//! A task's waker stand-in for the benchmarks that register one: reference
//! counted as a tokio task's is (a no-op waker would hide the clone), and
//! never woken here.

use std::sync::Arc;
use std::task::{Wake, Waker};

struct Task;

impl Wake for Task {
    fn wake(self: Arc<Self>) {}
}

/// A fresh waker of its own task.
pub fn task_waker() -> Waker {
    Waker::from(Arc::new(Task))
}
