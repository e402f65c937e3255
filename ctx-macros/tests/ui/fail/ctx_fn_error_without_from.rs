//! An error type without `From<ctx::Error>`.
use ctx::{ctx_fn, Context};

#[derive(Debug)]
pub enum AppError {
    NotFound,
}

#[ctx_fn]
async fn find(ctx: Context, id: u64) -> Result<u64, AppError> {
    std::future::ready(()).await;
    if id == 0 {
        return Err(AppError::NotFound);
    }
    Ok(id)
}

fn main() {}
