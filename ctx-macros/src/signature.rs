//! The context parameter of a `#[ctx_fn]` or `#[detached]` fn: found by
//! its type's name, given a named scope, inserted when absent, and the
//! compile-time checks that make the syntactic guess sound, whose runtime
//! (`context_param`, `Probe`) has its contract in `ctx::__private`'s
//! `signature` module.

use proc_macro2::{Ident, Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{
    FnArg, GenericArgument, GenericParam, Lifetime, LifetimeParam, Pat, PatIdent, PathArguments,
    Signature, Type,
};

use crate::tokens::respan;

/// The scope `#[ctx_fn]` gives an unnamed context, so that the compiler's
/// messages about a context escaping it read as the fix: "argument
/// requires that `'request_use_without_cancel_to_outlive_it` must outlive
/// `'static`". Long on purpose: a name nobody writes cannot clash with a
/// lifetime of an enclosing `impl`, which the macro cannot see.
pub(crate) const SCOPE: &str = "request_use_without_cancel_to_outlive_it";

/// The context parameter as the body knows it.
pub(crate) struct CtxParam {
    /// The name the body knows the context by; a hygienic one for `_`.
    pub(crate) ident: Ident,
    /// The parameter's position in the signature.
    pub(crate) index: usize,
    /// The parameter's pattern as written (`ctx`, `mut ctx`).
    pub(crate) pat: Box<Pat>,
    /// The compile-time checks of the parameters (see [`checks`]).
    pub(crate) checks: TokenStream,
    /// Whether the parameter is a reference (`&Context`), which moving
    /// only copies.
    pub(crate) by_ref: bool,
    /// Whether the macro named the context's scope (declaring [`SCOPE`]).
    pub(crate) named_scope: bool,
    /// Statements that bind the context's name, first in the body: empty
    /// when the parameter binds it.
    pub(crate) prelude: TokenStream,
}

/// Finds the context parameter, which must come first (after `self`), and
/// names its scope. When there is none and `insert` is set,
/// `ctx: Context<'scope>` is inserted first.
pub(crate) fn context_param(
    sig: &mut Signature,
    krate: &TokenStream,
    insert: bool,
) -> Result<CtxParam, Vec<syn::Error>> {
    let first = usize::from(matches!(sig.inputs.first(), Some(FnArg::Receiver(_))));
    let mut found: Option<usize> = None;
    let mut errors = Vec::new();
    for (index, arg) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = arg else { continue };
        if !is_context(&typed.ty, krate) {
            continue;
        }
        if found.is_some() {
            errors.push(syn::Error::new_spanned(
                arg,
                "remove this second context parameter: a fn takes one context (derive others from it inside)",
            ));
        } else {
            if index != first {
                errors.push(syn::Error::new_spanned(
                    arg,
                    "move the context parameter first (after `self`): by convention a context is always the first argument",
                ));
            }
            found = Some(index);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let scope = fresh_scope(sig);
    let (index, inserted) = match found {
        Some(index) => (index, false),
        None if insert => {
            let scope = Lifetime::new(&scope, Span::call_site());
            let inserted: FnArg = syn::parse_quote!(ctx: #krate::__private::Context<#scope>);
            sig.inputs.insert(first, inserted);
            (first, true)
        }
        None => {
            let span = sig.inputs.first().map_or(sig.ident.span(), Spanned::span);
            return Err(vec![syn::Error::new(
                span,
                "add the context as the first parameter (after `self`), e.g. `ctx: Context`: detached work derives its context from it",
            )]);
        }
    };
    let (named, written) = {
        let FnArg::Typed(typed) = &mut sig.inputs[index] else {
            unreachable!("the context parameter is a typed parameter")
        };
        let written = (!inserted).then(|| (*typed.ty).clone());
        (
            name_scope(&mut typed.ty, Some(krate), &scope[1..]) || inserted,
            written,
        )
    };
    if named {
        let scope = LifetimeParam::new(Lifetime::new(&scope, Span::call_site()));
        sig.generics.params.insert(0, GenericParam::Lifetime(scope));
    }
    let FnArg::Typed(typed) = &mut sig.inputs[index] else {
        unreachable!("the context parameter is a typed parameter")
    };
    let by_ref = matches!(*typed.ty, Type::Reference(_));
    let (ident, pat) = match &*typed.pat {
        Pat::Ident(PatIdent {
            ident,
            subpat: None,
            by_ref: None,
            ..
        }) => (ident.clone(), typed.pat.clone()),
        // The body cannot name `_`, but the generated code must.
        Pat::Wild(wild) => {
            let ident = Ident::new("__ctx_param", Span::mixed_site().located_at(wild.span()));
            *typed.pat = syn::parse_quote!(#ident);
            (ident, typed.pat.clone())
        }
        other => {
            return Err(vec![syn::Error::new_spanned(
                other,
                "bind the context parameter to a name, like `ctx: Context`",
            )])
        }
    };
    let checks = checks(sig, krate, index, written.as_ref());
    Ok(CtxParam {
        ident,
        index,
        pat,
        checks,
        by_ref,
        named_scope: named,
        prelude: TokenStream::new(),
    })
}

/// Whether a parameter's type names the context: `Context` or `&Context`,
/// bare or by the crate's path (`ctx::Context`, `::ctx::Context`), with or
/// without a scope. Other paths (`std::task::Context<'_>`,
/// `opentelemetry::Context`) are ordinary parameters; a bare `Context`
/// imported from elsewhere is caught at compile time by [`checks`].
pub(crate) fn is_context(ty: &Type, krate: &TokenStream) -> bool {
    match ty {
        Type::Reference(reference) => {
            reference.mutability.is_none() && is_context(&reference.elem, krate)
        }
        Type::Paren(paren) => is_context(&paren.elem, krate),
        Type::Group(group) => is_context(&group.elem, krate),
        Type::Path(path) if path.qself.is_none() => {
            let segments: Vec<&syn::PathSegment> = path.path.segments.iter().collect();
            let Some((last, prefix)) = segments.split_last() else {
                return false;
            };
            let prefix: Vec<String> = prefix.iter().map(|s| s.ident.to_string()).collect();
            let krate: Vec<String> = krate
                .to_string()
                .split("::")
                .map(|segment| segment.trim().to_owned())
                .filter(|segment| !segment.is_empty())
                .collect();
            last.ident == "Context"
                && scope_only(&last.arguments)
                && (prefix.is_empty() || prefix == ["ctx"] || prefix == krate)
        }
        _ => false,
    }
}

/// No generic arguments, or one lifetime: `Context`, `Context<'_>`.
fn scope_only(arguments: &PathArguments) -> bool {
    match arguments {
        PathArguments::None => true,
        PathArguments::AngleBracketed(args) => {
            args.args.len() == 1 && matches!(args.args.first(), Some(GenericArgument::Lifetime(_)))
        }
        PathArguments::Parenthesized(_) => false,
    }
}

/// Gives an unnamed scope (`Context`, `Context<'_>`) the name `scope`;
/// returns whether it did. With `krate`, the type is then written by the
/// crate's path: a bare `Context` imported from elsewhere fails only the
/// check of the type as written (see [`checks`]), not also every use the
/// expansion makes of it (`Context<'request>` of a type without a
/// lifetime, `Context::err`).
pub(crate) fn name_scope(ty: &mut Type, krate: Option<&TokenStream>, scope: &str) -> bool {
    match ty {
        Type::Reference(reference) => name_scope(&mut reference.elem, krate, scope),
        Type::Paren(paren) => name_scope(&mut paren.elem, krate, scope),
        Type::Group(group) => name_scope(&mut group.elem, krate, scope),
        Type::Path(path) => {
            let at = Span::mixed_site().located_at(path.span());
            let Some(last) = path.path.segments.last_mut() else {
                return false;
            };
            let elided = match &last.arguments {
                PathArguments::None => true,
                PathArguments::AngleBracketed(args) => matches!(
                    args.args.first(),
                    Some(GenericArgument::Lifetime(lifetime)) if lifetime.ident == "_"
                ),
                PathArguments::Parenthesized(_) => false,
            };
            if !elided {
                return false;
            }
            let scope = Lifetime::new(&format!("'{scope}"), last.ident.span());
            match krate {
                Some(krate) => {
                    let context = respan(quote!(#krate::__private::Context), at);
                    *ty = syn::parse_quote_spanned!(at=> #context<#scope>);
                }
                None => {
                    last.arguments = PathArguments::AngleBracketed(syn::parse_quote!(<#scope>));
                }
            }
            true
        }
        _ => false,
    }
}

/// `'` and [`SCOPE`], or, if the fn already declares that lifetime,
/// `SCOPE` and the first number that makes it new.
fn fresh_scope(sig: &Signature) -> String {
    let declared = |name: &str| {
        sig.generics
            .lifetimes()
            .any(|param| param.lifetime.ident == name)
    };
    let mut name = SCOPE.to_owned();
    let mut n = 1;
    while declared(&name) {
        n += 1;
        name = format!("{SCOPE}{n}");
    }
    format!("'{name}")
}

/// Compile-time checks that make the guess by name sound: the parameter
/// taken for the context is `ctx::Context` (`ctx`, when it was found by
/// name), and no other parameter is one under another name (a type alias),
/// which would otherwise silently get a second context inserted beside it.
fn checks(
    sig: &Signature,
    krate: &TokenStream,
    ctx_index: usize,
    written: Option<&Type>,
) -> TokenStream {
    // The type as written: the signature's parameter has the crate's path.
    let found = written.map(|ty| {
        let at = Span::mixed_site().located_at(ty.span());
        let check = respan(quote!(#krate::__private::context_param), at);
        quote_spanned! {at=> let _ = #check::<#ty>; }
    });
    let probes = sig
        .inputs
        .iter()
        .enumerate()
        .filter_map(|(index, arg)| match arg {
            FnArg::Typed(typed) if index != ctx_index && nameable(&typed.ty) => {
                let ty = &typed.ty;
                // All at the parameter's type: a path starting at the
                // macro's call site would put the error on the attribute.
                let at = Span::mixed_site().located_at(ty.span());
                let probe = respan(quote!(#krate::__private::Probe), at);
                Some(quote_spanned! {at=>
                    #probe::<#ty>::not_a_context();
                })
            }
            _ => None,
        });
    let probes: Vec<TokenStream> = probes.collect();
    let probes = (!probes.is_empty()).then(|| {
        quote! {{
            #[allow(unused_imports)]
            use #krate::__private::NotAContext as _;
            #(#probes)*
        }}
    });
    quote!(#found #probes)
}

/// Whether a type can be written in an expression (`impl Trait` cannot).
fn nameable(ty: &Type) -> bool {
    struct Opaque(bool);
    impl<'ast> syn::visit::Visit<'ast> for Opaque {
        fn visit_type_impl_trait(&mut self, _: &'ast syn::TypeImplTrait) {
            self.0 = true;
        }
        fn visit_type_infer(&mut self, _: &'ast syn::TypeInfer) {
            self.0 = true;
        }
        fn visit_type_macro(&mut self, _: &'ast syn::TypeMacro) {
            self.0 = true;
        }
    }
    let mut opaque = Opaque(false);
    syn::visit::Visit::visit_type(&mut opaque, ty);
    !opaque.0 && !ty.to_token_stream().is_empty()
}
