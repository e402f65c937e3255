//! Fire-and-forget work that holds only what it read from the context (its
//! text, its deadline, a cloned value), never the context: it compiles.
use std::time::Duration;

use ctx::{ctx_fn, Context, Error};
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

#[derive(Clone)]
struct User(String);

async fn log_line(log: UnboundedSender<String>, line: String) {
    let _ = log.send(line);
}

#[ctx_fn]
async fn handler(ctx: Context, log: UnboundedSender<String>) -> Result<(), Error> {
    tokio::spawn(log_line(log.clone(), ctx.to_string()));

    let deadline = ctx.deadline();
    let deadlines = log.clone();
    std::thread::spawn(move || deadlines.send(format!("deadline set: {}", deadline.is_some())));

    let user = ctx.value::<User>().cloned();
    tokio::task::spawn_blocking(move || {
        log.send(format!("user: {}", user.map_or_else(String::new, |u| u.0)))
    });
    Ok(())
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let (log, mut lines) = unbounded_channel();
    let (request, cancel) = Context::background()
        .with_value(User("ada".to_owned()))
        .with_timeout(Duration::from_secs(1));
    handler(request, log).await.unwrap();
    cancel.cancel();

    let mut seen = Vec::new();
    while let Some(line) = lines.recv().await {
        seen.push(line);
    }
    seen.sort();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen[0].starts_with("context.Background"), "{seen:?}");
    assert_eq!(seen[1..], ["deadline set: true", "user: ada"]);
}
