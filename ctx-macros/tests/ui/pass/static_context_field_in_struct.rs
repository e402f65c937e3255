//! A long-lived struct stores a context explicitly as `Context<'static>`,
//! and `#[ctx_fn]` methods pass it on.
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};

struct Worker {
    ctx: Context<'static>,
    jobs: Vec<u32>,
}

impl Worker {
    fn new(ctx: &Context<'_>) -> Worker {
        Worker {
            ctx: ctx.without_cancel(),
            jobs: Vec::new(),
        }
    }

    #[ctx_fn]
    async fn push(&mut self, ctx: &Context, job: u32) -> Result<usize, Error> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        self.jobs.push(job);
        Ok(self.jobs.len())
    }

    fn start(self) -> tokio::task::JoinHandle<Result<u32, Error>> {
        tokio::spawn(async move {
            let total = self.jobs.iter().sum();
            self.ctx.run(std::future::ready(total)).await
        })
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let (request, cancel) = Context::background().with_cancel();
    let mut worker = Worker::new(&request);
    assert_eq!(worker.push(&request, 2).await, Ok(1));
    assert_eq!(worker.push(&request, 3).await, Ok(2));
    cancel.cancel();
    assert_eq!(worker.push(&request, 4).await, Err(Error::Canceled));
    assert_eq!(worker.start().await.unwrap(), Ok(5));
}
