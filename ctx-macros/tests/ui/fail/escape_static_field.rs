//! The request's context stored in a long-lived `Context<'static>` field.
use ctx::{ctx_fn, Context, Error};

pub struct Service {
    last_request: Option<Context<'static>>,
}

impl Service {
    #[ctx_fn]
    pub fn remember(&mut self, ctx: &Context) -> Result<(), Error> {
        self.last_request = Some(ctx.clone());
        Ok(())
    }
}

fn main() {}
