//! The scope the macro names cannot clash with the user's lifetimes: an
//! `impl<'request>` (which the macro cannot see), or a fn that declares
//! the macro's own name (which it renames around).
use ctx::{ctx_fn, Context, Error};

struct Session<'request> {
    user: &'request str,
}

impl<'request> Session<'request> {
    #[ctx_fn]
    async fn greet(&self, ctx: Context) -> Result<String, Error> {
        tokio::task::yield_now().await;
        Ok(format!("{}: {}", self.user, ctx.is_done()))
    }

    #[ctx_fn]
    async fn inserted(&self) -> Result<&'request str, Error> {
        tokio::task::yield_now().await;
        let _ = ctx.is_done();
        Ok(self.user)
    }
}

#[ctx_fn]
async fn declares_the_name<'request_use_without_cancel_to_outlive_it>(
    ctx: Context,
    name: &'request_use_without_cancel_to_outlive_it str,
) -> Result<&'request_use_without_cancel_to_outlive_it str, Error> {
    tokio::task::yield_now().await;
    let _ = ctx.is_done();
    Ok(name)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let ctx = Context::background();
    let session = Session { user: "ann" };
    assert_eq!(session.greet(ctx.clone()).await, Ok("ann: false".to_owned()));
    assert_eq!(session.inserted(ctx.clone()).await, Ok("ann"));
    assert_eq!(declares_the_name(ctx, "bob").await, Ok("bob"));
}
