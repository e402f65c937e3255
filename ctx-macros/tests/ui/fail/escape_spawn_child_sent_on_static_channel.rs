//! The child `ctx.spawn` hands its work, sent down a channel whose
//! receiver outlives the work.
use ctx::Context;
use tokio::sync::mpsc::UnboundedSender;

fn accept(ctx: Context<'_>, stash: UnboundedSender<Context<'static>>) {
    let _connection = ctx.spawn(move |child| {
        Box::pin(async move {
            stash.send(child).unwrap();
        })
    });
}

fn main() {}
