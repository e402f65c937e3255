//! `#[detached]` takes `'static` callbacks whose arguments borrow:
//! boxed closures, fn pointers and `impl Fn` with `'static`.
use ctx::{detached, Context, Error};

#[detached]
async fn render(
    ctx: Context,
    format: Box<dyn Fn(&str) -> String + Send + Sync>,
    measure: fn(&str) -> usize,
    report: impl Fn(&str) + Send + 'static,
) -> Result<usize, Error> {
    let text = format("hello");
    report(&text);
    Ok(measure(&text))
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (seen, mut reports) = tokio::sync::mpsc::unbounded_channel();
    let rendered = render(
        Context::background(),
        Box::new(|name| format!("<{name}>")),
        str::len,
        move |text| seen.send(text.to_owned()).unwrap(),
    );
    assert_eq!(rendered.await.unwrap(), Ok(7));
    assert_eq!(reports.recv().await.as_deref(), Some("<hello>"));
}
