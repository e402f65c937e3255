//! A `with_value` child spawned, in a plain `async fn`: values do not
//! change the scope.
use ctx::{Context, Error};

struct TraceId(u64);

async fn publish(ctx: Context<'_>, msg: String) -> Result<(), Error> {
    ctx.run(async move { drop(msg) }).await
}

pub async fn handler(ctx: Context<'_>, msg: String) {
    let traced = ctx.with_value(TraceId(7));
    tokio::spawn(publish(traced, msg));
}

fn main() {}
