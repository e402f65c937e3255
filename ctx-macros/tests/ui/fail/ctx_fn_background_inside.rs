use ctx::{ctx_fn, Context, Error};

async fn query(ctx: Context, sql: &str) -> usize {
    let _ = ctx;
    sql.len()
}

#[ctx_fn]
async fn handler(ctx: Context) -> Result<usize, Error> {
    Ok(query(Context::background(), "select 1").await)
}

fn main() {}
