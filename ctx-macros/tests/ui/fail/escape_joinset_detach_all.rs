//! A `JoinSet` whose tasks are detached, in a plain `async fn`.
use ctx::{Context, Error};
use tokio::task::JoinSet;

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

pub async fn handler(ctx: Context<'_>, msgs: Vec<String>) {
    let mut set = JoinSet::new();
    for m in msgs {
        set.spawn(publish(ctx.clone(), m));
    }
    set.detach_all();
}

fn main() {}
