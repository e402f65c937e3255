//! A method whose context has the `impl`'s lifetime, forced to `'static`
//! by the method's own `where` clause. (A bound on the `impl` itself,
//! `impl<'request: 'static>`, is outside the macro's sight.)
use ctx::{ctx_fn, Context, Error};

struct Session<'request> {
    name: &'request str,
}

impl<'request> Session<'request> {
    #[ctx_fn]
    async fn greet(&self, ctx: Context<'request>) -> Result<String, Error>
    where
        'request: 'static,
    {
        Ok(format!("{}: {}", self.name, ctx.is_done()))
    }
}

fn main() {}
