//! `#[ctx_fn]`: validate the fn and its context parameter, rewrite its body
//! into a checked one (`body.rs`), emit it (`item.rs`). A fn that fails validation is
//! emitted as written, after the errors.

use proc_macro2::TokenStream;
use quote::ToTokens;
use syn::{ItemFn, ReturnType, Signature};

use crate::attr::CtxFnArgs;
use crate::body::{BodyPlan, Host};
use crate::debug_handler::{into_extractor, is_debug_handler, lend_from_extractor};
use crate::item::{as_written, parse_fn, return_span, split_inner, with_errors, ExpandedFn};
use crate::signature::{context_param, CtxParam};
use crate::static_scope::static_scope;

pub(crate) fn ctx_fn(args: CtxFnArgs, item: TokenStream) -> TokenStream {
    let krate = &args.krate.0;
    match validate(item, krate) {
        Ok(valid) => rewrite(valid, krate).emit(),
        Err(rejected) => rejected,
    }
}

/// A fn `#[ctx_fn]` can expand: its context parameter found (or inserted)
/// and its scope named.
struct Valid {
    func: ItemFn,
    ctx: CtxParam,
    /// Under `#[axum::debug_handler]`, which takes no generic fn: the
    /// context comes from a `'static` extractor, lent to the body.
    debug_handler: bool,
}

/// Checks the fn's form and its context parameter; on failure, the fn as
/// written after the errors.
fn validate(item: TokenStream, krate: &TokenStream) -> Result<Valid, TokenStream> {
    let mut func = parse_fn(item.clone(), "ctx_fn").map_err(|err| with_errors(item, vec![err]))?;
    if let Some(err) = unsupported(&func.sig) {
        return Err(with_errors(as_written(func, krate), vec![err]));
    }
    let written = func.sig.clone();
    let mut ctx = match context_param(&mut func.sig, krate, true) {
        Ok(ctx) => ctx,
        Err(errors) => {
            func.sig = written;
            return Err(with_errors(as_written(func, krate), errors));
        }
    };
    let static_scope = static_scope(&written, krate);
    let debug_handler = ctx.named_scope && func.attrs.iter().any(is_debug_handler);
    let lent = match debug_handler {
        true => lend_from_extractor(&func.sig, &written, &mut ctx, krate).err(),
        false => None,
    };
    if !static_scope.is_empty() || lent.is_some() {
        if lent.is_some() {
            // It would check the parameter as written, failing again.
            func.attrs.retain(|attr| !is_debug_handler(attr));
        }
        func.sig = written;
        return Err(with_errors(
            as_written(func, krate),
            static_scope.into_iter().chain(lent).collect(),
        ));
    }
    Ok(Valid {
        func,
        ctx,
        debug_handler,
    })
}

/// Makes the fn's body a checked one, and a debug handler's context
/// parameter its extractor.
fn rewrite(valid: Valid, krate: &TokenStream) -> ExpandedFn {
    let Valid {
        func,
        ctx,
        debug_handler,
    } = valid;
    let (inner_attrs, outer_attrs) = split_inner(func.attrs);
    let mut sig = func.sig;
    let (body, errors) = BodyPlan {
        krate,
        sig: &mut sig,
        ctx: &ctx,
        block: func.block,
        host: Host::CtxFn { inner_attrs },
    }
    .expand();
    if debug_handler {
        into_extractor(&mut sig, &ctx, krate);
    }
    ExpandedFn {
        attrs: outer_attrs,
        vis: func.vis,
        sig,
        body,
        errors,
    }
}

/// The forms `#[ctx_fn]` cannot take, with what to do instead.
fn unsupported(sig: &Signature) -> Option<syn::Error> {
    if let Some(constness) = &sig.constness {
        return Some(syn::Error::new(
            constness.span,
            "remove `const`: `#[ctx_fn]` checks the context at run time, which a `const fn` cannot do",
        ));
    }
    if sig.asyncness.is_none() && returns_boxed_future(sig) {
        return Some(syn::Error::new(
            return_span(sig),
            "`#[ctx_fn]` sees this fn after `#[async_trait]` turned it into a boxed future, so it cannot check its awaits: \
             drop `#[async_trait]` and write a native `async fn` in the trait (Rust 1.75+), or call a `#[ctx_fn]` fn from this method",
        ));
    }
    None
}

/// `-> Pin<Box<dyn Future<Output = ...> + ...>>`, what `#[async_trait]`
/// makes of an `async fn`.
fn returns_boxed_future(sig: &Signature) -> bool {
    let ReturnType::Type(_, ty) = &sig.output else {
        return false;
    };
    let tokens = ty.to_token_stream().to_string().replace(' ', "");
    tokens.contains("Pin<Box<dyn") && tokens.contains("Future<Output=")
}
