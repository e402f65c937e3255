use ctx::{ctx_fn, Context, Error};

struct Service;

impl Service {
    #[ctx_fn]
    async fn handle(&self, id: u64, ctx: &Context) -> Result<u64, Error> {
        Ok(id)
    }
}

fn main() {}
