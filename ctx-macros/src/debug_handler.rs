//! `#[ctx_fn]` above `#[axum::debug_handler]`, which takes no generic fn
//! and so no scope the macro could name: the context parameter becomes a
//! `'static` extractor the body only borrows its context from
//! (`DebugHandlerContext`, whose contract `ctx::__private`'s
//! `debug_handler` module states).

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{Attribute, FnArg, PatType, Signature};

use crate::signature::{CtxParam, SCOPE};
use crate::tokens::respan;

/// `#[axum::debug_handler]` (or `#[axum_macros::debug_handler]`).
pub(crate) fn is_debug_handler(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|segment| segment.ident == "debug_handler")
}

/// Sets `ctx.prelude` to bind the context parameter's pattern to a
/// `Context` lent from the extractor [`into_extractor`] makes of the
/// parameter. The lent context's scope is the borrow of the parameter, so
/// it cannot escape the call any more than a named scope could; the
/// parameter is named like that scope, so the compiler's "does not live
/// long enough" reads as the fix.
///
/// `written` is the signature as written, where a context taken by
/// reference is reported.
pub(crate) fn lend_from_extractor(
    sig: &Signature,
    written: &Signature,
    ctx: &mut CtxParam,
    krate: &TokenStream,
) -> Result<(), syn::Error> {
    if ctx.by_ref {
        let message = "an axum handler takes its context by value: write `ctx: Context`";
        // Taken by reference, the parameter was written, not inserted.
        return Err(match written.inputs.get(ctx.index) {
            Some(FnArg::Typed(typed)) => syn::Error::new_spanned(&typed.ty, message),
            _ => syn::Error::new(sig.ident.span(), message),
        });
    }
    let FnArg::Typed(typed) = &sig.inputs[ctx.index] else {
        unreachable!("the context parameter is a typed parameter")
    };
    let (extractor, holder) = extractor(typed, krate);
    let pat = &ctx.pat;
    // At the parameter: where the borrow is reported if the context escapes.
    let at = Span::mixed_site().located_at(typed.pat.span());
    ctx.prelude = quote_spanned! {at=>
        let #pat: #krate::__private::Context<'_> = #extractor::lend(&#holder);
    };
    Ok(())
}

/// Turns the context parameter, whose scope the macro named, into the
/// holder of [`lend_from_extractor`]: `#krate::__private::DebugHandlerContext`,
/// a `'static` extractor `debug_handler` can check, and drops the scope
/// the macro declared (`ctx.named_scope`).
pub(crate) fn into_extractor(sig: &mut Signature, ctx: &CtxParam, krate: &TokenStream) {
    // The scope the macro declared, first.
    let params = std::mem::take(&mut sig.generics.params);
    sig.generics.params = params.into_iter().skip(1).collect();
    if sig.generics.params.is_empty() {
        sig.generics.lt_token = None;
        sig.generics.gt_token = None;
    }
    let FnArg::Typed(typed) = &mut sig.inputs[ctx.index] else {
        unreachable!("the context parameter is a typed parameter")
    };
    let (extractor, holder) = extractor(typed, krate);
    *typed.ty = syn::parse_quote!(#extractor);
    *typed.pat = syn::parse_quote!(#holder);
}

/// The extractor's type, at the parameter's type, and the parameter's
/// name, unhygienic: so the compiler names it in its messages (a hygienic
/// one is a "temporary value"), and it is [`SCOPE`], which nobody writes.
fn extractor(typed: &PatType, krate: &TokenStream) -> (TokenStream, Ident) {
    let at = Span::mixed_site().located_at(typed.ty.span());
    let extractor = respan(
        quote_spanned!(at=> #krate::__private::DebugHandlerContext),
        at,
    );
    let holder = Ident::new(SCOPE, typed.pat.span());
    (extractor, holder)
}
