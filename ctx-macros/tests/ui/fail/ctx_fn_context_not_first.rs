//! The context after another parameter (the body, emitted as written,
//! keeps its `#[uncancelable]` mark quiet).
use ctx::{ctx_fn, Context, Error};

pub struct Service;

impl Service {
    async fn flush(&self) {}

    #[ctx_fn]
    pub async fn handle(&self, id: u64, ctx: &Context) -> Result<u64, Error> {
        #[uncancelable]
        self.flush().await;
        Ok(id)
    }
}

fn main() {}
