//! `#[detached]`: validate the fn, rewrite it into one that spawns its
//! checked body (`body.rs`) and returns the handle, emit it (`item.rs`). The calls it
//! generates (`detach`, `detach_arg`) have their contract in
//! `ctx::__private`'s `detached` module. A fn that fails validation is
//! emitted as written, after the errors.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{AttrStyle, FnArg, Ident, ItemFn, Pat, Signature, Type};

use crate::attr::DetachedArgs;
use crate::body::{BodyPlan, Host};
use crate::item::{as_written, parse_fn, return_type, split_inner, with_errors, ExpandedFn};
use crate::signature::{context_param, is_context, CtxParam};

pub(crate) fn detached(args: DetachedArgs, item: TokenStream) -> TokenStream {
    let krate = &args.krate.0;
    match validate(item, krate) {
        Ok(valid) => rewrite(valid, &args).emit(),
        Err(rejected) => rejected,
    }
}

/// A fn `#[detached]` can expand: async, taking only what a spawned task
/// can hold, its context parameter first.
struct Valid {
    func: ItemFn,
    ctx: CtxParam,
}

/// Checks the fn's form and parameters; on failure, the fn as written
/// after the errors.
fn validate(item: TokenStream, krate: &TokenStream) -> Result<Valid, TokenStream> {
    let mut func =
        parse_fn(item.clone(), "detached").map_err(|err| with_errors(item, vec![err]))?;
    let mut errors = Vec::new();
    if func.sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            func.sig.fn_token.span,
            "`#[detached]` goes on an `async fn`: add `async`, its body runs as a spawned task",
        ));
    }
    errors.extend(borrowed_params(&func.sig, krate));
    let written = func.sig.clone();
    let ctx = match context_param(&mut func.sig, krate, false) {
        Ok(ctx) => Some(ctx),
        Err(found) => {
            errors.extend(found);
            None
        }
    };
    match ctx.filter(|_| errors.is_empty()) {
        Some(ctx) => Ok(Valid { func, ctx }),
        None => {
            func.sig = written;
            Err(with_errors(as_written(func, krate), errors))
        }
    }
}

/// Makes the body the task's checked body, and the fn one that returns
/// the task's handle at once.
fn rewrite(valid: Valid, args: &DetachedArgs) -> ExpandedFn {
    let krate = &args.krate.0;
    let Valid { func, ctx } = valid;
    let ItemFn {
        attrs,
        vis,
        mut sig,
        block,
        ..
    } = func;
    // The body becomes an `async` block, where inner attributes are
    // unstable (E0658): they go on the fn, which in a body they apply to.
    let (inner, mut attrs) = split_inner(attrs);
    attrs.extend(inner.into_iter().map(|mut attr| {
        attr.style = AttrStyle::Outer;
        attr
    }));
    let (body, errors) = BodyPlan {
        krate,
        sig: &mut sig,
        ctx: &ctx,
        block,
        host: Host::DetachedTask,
    }
    .expand();
    let output = return_type(&sig);
    let name = sig.ident.to_string();
    let timeout = match args.timeout {
        Some(nanos) => {
            quote!(::core::option::Option::Some(::core::time::Duration::from_nanos(#nanos)))
        }
        None => quote!(::core::option::Option::None),
    };
    sig.asyncness = None;
    sig.output = syn::parse_quote_spanned! {output.span()=>
        -> #krate::__private::Detached<#output>
    };
    // The pattern as written binds the task's context; the outer fn only
    // borrows the parameter, where a `mut` would be unused.
    for arg in &mut sig.inputs {
        if let FnArg::Typed(typed) = arg {
            if let Pat::Ident(param) = &mut *typed.pat {
                if param.ident == ctx.ident {
                    param.mutability = None;
                }
            }
        }
    }
    let movable = movable_args(&sig, &ctx.ident, krate);
    attrs.push(syn::parse_quote!(#[track_caller]));
    let CtxParam {
        ident, pat, checks, ..
    } = ctx;
    let body = quote! {{
        #checks
        #movable
        #krate::__private::detach::<#output, _, _>(
            #name,
            &#ident,
            #timeout,
            move |#pat: #krate::__private::Context<'static>| async move #body,
        )
    }};
    ExpandedFn {
        attrs,
        vis,
        sig,
        body,
        errors,
    }
}

/// Checks, argument by argument and at each argument, that the work can
/// take it to another thread for as long as it runs: `Send + 'static`.
fn movable_args(sig: &Signature, ctx: &Ident, krate: &TokenStream) -> TokenStream {
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(typed) => match &*typed.pat {
                Pat::Ident(pat) if pat.ident != *ctx => {
                    let name = &pat.ident;
                    Some(quote_spanned! {typed.span()=> #krate::__private::detach_arg(&#name); })
                }
                _ => None,
            },
            FnArg::Receiver(receiver) => Some(quote_spanned! {receiver.span()=>
                #krate::__private::detach_arg(&self);
            }),
        })
        .collect()
}

/// The parameters a spawned task could not hold: borrows, and anything
/// with a lifetime other than `'static`.
fn borrowed_params(sig: &Signature, krate: &TokenStream) -> Vec<syn::Error> {
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Receiver(receiver) if matches!(receiver.kind, syn::ReceiverKind::Reference(..)) => Some(syn::Error::new_spanned(
                receiver,
                "take `self` by value (e.g. `self: Arc<Self>`): `#[detached]` work outlives its caller, so it cannot borrow `self`",
            )),
            FnArg::Receiver(_) => None,
            // The context by value, whatever its scope: the task gets its
            // `without_cancel()`, which is `'static`.
            FnArg::Typed(typed) if is_context(&typed.ty, krate) && !matches!(*typed.ty, Type::Reference(_)) => None,
            FnArg::Typed(typed) => {
                let mut finder = HoldsBorrow(false);
                finder.visit_type(&typed.ty);
                finder.0.then(|| {
                    let name = typed.pat.to_token_stream();
                    syn::Error::new_spanned(
                        typed,
                        format!("take `{name}` by value (an owned, `'static` type): `#[detached]` work outlives its caller, so it cannot borrow"),
                    )
                })
            }
        })
        .collect()
}

/// Whether a value of a type holds a borrow. The error goes on the whole
/// parameter, so where in the type does not matter. The argument types of
/// fn pointers and `Fn` traits (`fn(&str)`, `Box<dyn Fn(&str) + Send>`)
/// are not held: they only say what the callee is given.
struct HoldsBorrow(bool);

impl<'ast> Visit<'ast> for HoldsBorrow {
    fn visit_type_fn_ptr(&mut self, _: &'ast syn::TypeFnPtr) {}

    fn visit_parenthesized_generic_arguments(
        &mut self,
        _: &'ast syn::ParenthesizedGenericArguments,
    ) {
    }

    fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
        self.0 |= lifetime.ident != "static";
    }

    fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
        match &reference.lifetime {
            Some(lifetime) => self.visit_lifetime(lifetime),
            None => self.0 = true,
        }
        self.visit_type(&reference.elem);
    }
}
