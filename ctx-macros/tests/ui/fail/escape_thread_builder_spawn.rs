//! A named thread from `std::thread::Builder`, in a plain sync fn.
use ctx::Context;

pub fn audit(ctx: &Context<'_>) -> std::io::Result<()> {
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name("audit".to_owned())
        .spawn(move || println!("audit {ctx}"))?;
    Ok(())
}

fn main() {}
