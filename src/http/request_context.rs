//! Where middleware, tower services and tonic handlers find a request's
//! context: lent for the borrow of the request, never as a
//! `Context<'static>`.

use ctx_core::__request::RequestContext;

use crate::Context;

use super::MissingContext;

/// The request's context, lent by the request that carries it. Implemented
/// for `http::Request<B>`, `http::request::Parts`, `http::Extensions`, and
/// (feature `tonic`) `tonic::Request<T>`.
///
/// [`ContextLayer`](super::ContextLayer) stores each request's context in
/// the request's extensions under a type of its own: a middleware, a tower
/// service or a tonic handler reads it with [`context`](Self::context), a
/// `Context<'_>` that lives as long as the borrow of the request, so it
/// can be read, passed on and awaited, but not moved into work that
/// outlives the request (`tokio::spawn`, a `'static` channel): that does
/// not compile. Work that must outlive it takes
/// [`without_cancel`](Context::without_cancel). A middleware gives the
/// request's context more values with [`map_context`](Self::map_context).
///
/// ```
/// use std::convert::Infallible;
/// use ctx::http::{ContextLayer, RequestContextExt, RequestId};
/// use http::{Request, Response};
/// use tower::{service_fn, Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let inner = service_fn(|request: Request<()>| async move {
///     let ctx = request.context().expect("inside ContextLayer");
///     let id = ctx.value::<RequestId>().unwrap().to_string();
///     Ok::<_, Infallible>(Response::new(id))
/// });
/// let service = ContextLayer::new(ctx::Context::background()).layer(inner);
/// let request = Request::builder().header("x-request-id", "req-7").body(()).unwrap();
/// let response = service.oneshot(request).await.unwrap();
/// assert_eq!(response.headers()["x-request-id"], "req-7");
/// # }
/// ```
///
/// The lent context cannot escape the request:
///
/// ```compile_fail,E0597
/// use ctx::http::RequestContextExt;
///
/// fn publish_later(request: http::Request<()>) {
///     let ctx = request.context().unwrap();
///     // error[E0597]: `request` does not live long enough
///     tokio::spawn(async move { ctx.done().await });
/// }
/// ```
pub trait RequestContextExt {
    /// The request's context, for the borrow of the request; `None`
    /// without a [`ContextLayer`](super::ContextLayer) around the service.
    fn context(&self) -> Option<Context<'_>>;

    /// Replaces the request's context with one derived from it: `derive`
    /// gets the context, with a scope it cannot keep, and gives back a
    /// child of it, for example one carrying an authenticated user. The
    /// child is still the request's context (it ends with the response).
    /// Fails, leaving the request as it is, without a context to derive
    /// from.
    ///
    /// ```
    /// use ctx::http::RequestContextExt;
    ///
    /// struct User(&'static str);
    ///
    /// fn authenticate<B>(request: &mut http::Request<B>) -> Result<(), ctx::http::MissingContext> {
    ///     request.map_context(|ctx| ctx.with_value(User("ada")))
    /// }
    ///
    /// let mut request = http::Request::new(());
    /// assert!(authenticate(&mut request).is_err(), "no ContextLayer here");
    /// ```
    fn map_context(
        &mut self,
        derive: impl for<'s> FnOnce(Context<'s>) -> Context<'s>,
    ) -> Result<(), MissingContext>;
}

impl RequestContextExt for http::Extensions {
    fn context(&self) -> Option<Context<'_>> {
        self.get::<RequestContext>().map(RequestContext::lend)
    }

    fn map_context(
        &mut self,
        derive: impl for<'s> FnOnce(Context<'s>) -> Context<'s>,
    ) -> Result<(), MissingContext> {
        let ctx = self.get_mut::<RequestContext>().ok_or(MissingContext)?;
        ctx.replace_with(derive);
        Ok(())
    }
}

/// Implements [`RequestContextExt`] for a type through its extensions,
/// reached as `$extensions` and `$extensions_mut` of `self`.
macro_rules! through_extensions {
    ($(#[$cfg:meta])* impl<$($generic:ident)?> for $type:ty:
        |$this:ident| $extensions:expr, $extensions_mut:expr) => {
        $(#[$cfg])*
        impl<$($generic)?> RequestContextExt for $type {
            fn context(&self) -> Option<Context<'_>> {
                let $this = self;
                $extensions.context()
            }

            fn map_context(
                &mut self,
                derive: impl for<'s> FnOnce(Context<'s>) -> Context<'s>,
            ) -> Result<(), MissingContext> {
                let $this = self;
                $extensions_mut.map_context(derive)
            }
        }
    };
}

through_extensions!(impl<B> for http::Request<B>:
    |request| request.extensions(), request.extensions_mut());
through_extensions!(impl<> for http::request::Parts:
    |parts| &parts.extensions, &mut parts.extensions);
through_extensions!(
    #[cfg(feature = "tonic")]
    impl<T> for tonic::Request<T>:
    |request| request.extensions(), request.extensions_mut()
);

/// Stores `ctx` as the request's context, where [`RequestContextExt`] and
/// the axum extractor find it.
pub(super) fn insert(extensions: &mut http::Extensions, ctx: Context<'static>) {
    extensions.insert(RequestContext::new(ctx));
}
