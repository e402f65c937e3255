//! A struct holding the context, whose future is spawned.
use ctx::{ctx_fn, Context, Error};

struct Job<'a> {
    ctx: Context<'a>,
    msg: String,
}

impl Job<'_> {
    async fn run(self) -> Result<(), Error> {
        let msg = self.msg;
        self.ctx.run(async move { drop(msg) }).await
    }
}

#[ctx_fn]
async fn handler(ctx: Context, msg: String) -> Result<(), Error> {
    let job = Job {
        ctx: ctx.clone(),
        msg,
    };
    tokio::spawn(job.run());
    Ok(())
}

fn main() {}
