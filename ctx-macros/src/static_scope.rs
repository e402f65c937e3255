//! Rejects a `#[ctx_fn]` context whose scope is `'static`, written or
//! forced by a bound: the fn would hold the request's context with no end,
//! which is the one thing its scope exists to prevent.
//!
//! Only the fn's own signature can be read: a bound on an enclosing
//! `impl` (`impl<'a: 'static>`) is out of the macro's sight.

use std::collections::HashMap;

use proc_macro2::{Span, TokenStream};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{
    FnArg, GenericArgument, GenericParam, Lifetime, PathArguments, Signature, Type, TypeParamBound,
    WherePredicate,
};

use crate::signature::is_context;

/// Why a `'static` scope is wrong and what to do instead: the end of
/// every error here.
const FIX: &str = "a `#[ctx_fn]` fn uses its context for the call, never past it; \
                   for work that must outlive the request, pass `ctx.without_cancel()` or call a `#[detached]` fn";

/// The errors for a context parameter (the first one, the one
/// `#[ctx_fn]` takes) whose scope is `'static`: at the `'static` written
/// in its type, or at the bound that forces its scope to be `'static`.
pub(crate) fn static_scope(sig: &Signature, krate: &TokenStream) -> Vec<syn::Error> {
    let Some(ty) = sig.inputs.iter().find_map(|arg| match arg {
        FnArg::Typed(typed) if is_context(&typed.ty, krate) => Some(&*typed.ty),
        _ => None,
    }) else {
        return Vec::new();
    };
    let forced = forced_static(sig);
    scope_lifetimes(ty)
        .into_iter()
        .filter_map(|lifetime| {
            if lifetime.ident == "static" {
                return Some(syn::Error::new(
                    lifetime.span(),
                    format!(
                        "remove `'static` (write `ctx: Context`): {FIX} \
                         (with `#[axum::debug_handler]`, put `#[ctx_fn]` above it)"
                    ),
                ));
            }
            forced.get(&lifetime.ident.to_string()).map(|at| {
                syn::Error::new(
                    *at,
                    format!(
                        "remove this bound: it makes the context's scope `{lifetime}` `'static`, but {FIX}"
                    ),
                )
            })
        })
        .collect()
}

/// The lifetimes that say how long the context parameter may be used: its
/// scope (`Context<'a>`) and, for `&'b Context<'a>`, the borrow's `'b`,
/// which the scope must outlive.
fn scope_lifetimes(ty: &Type) -> Vec<&Lifetime> {
    match ty {
        Type::Reference(reference) => {
            let mut lifetimes: Vec<&Lifetime> = reference.lifetime.iter().collect();
            lifetimes.extend(scope_lifetimes(&reference.elem));
            lifetimes
        }
        Type::Paren(paren) => scope_lifetimes(&paren.elem),
        Type::Group(group) => scope_lifetimes(&group.elem),
        Type::Path(path) => match path.path.segments.last().map(|last| &last.arguments) {
            Some(PathArguments::AngleBracketed(args)) => args
                .args
                .iter()
                .filter_map(|arg| match arg {
                    GenericArgument::Lifetime(lifetime) => Some(lifetime),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The fn's lifetimes that its bounds force to be `'static`, directly
/// (`'a: 'static`, `Context<'a>: 'static`) or through others (`'a: 'b,
/// 'b: 'static`), each with where to report it: the bound that starts the
/// chain, the one to remove.
fn forced_static(sig: &Signature) -> HashMap<String, Span> {
    // Every "`outlives` outlives `bound`" the signature states.
    let mut edges: Vec<(String, Lifetime, Span)> = Vec::new();
    for param in &sig.generics.params {
        if let GenericParam::Lifetime(param) = param {
            for bound in &param.bounds {
                edges.push((
                    param.lifetime.ident.to_string(),
                    bound.clone(),
                    bound_span(param.lifetime.span(), bound),
                ));
            }
        }
    }
    let predicates = sig
        .generics
        .where_clause
        .iter()
        .flat_map(|clause| &clause.predicates);
    for predicate in predicates {
        match predicate {
            WherePredicate::Lifetime(predicate) => {
                for bound in &predicate.bounds {
                    let at = bound_span(predicate.lifetime.span(), bound);
                    edges.push((predicate.lifetime.ident.to_string(), bound.clone(), at));
                }
            }
            // `T<'a>: 'b` makes every lifetime of `T<'a>` outlive `'b`.
            WherePredicate::Type(predicate) => {
                let mut within = Lifetimes(Vec::new());
                within.visit_type(&predicate.bounded_ty);
                for bound in &predicate.bounds {
                    if let TypeParamBound::Lifetime(bound) = bound {
                        for lifetime in &within.0 {
                            let at = bound_span(predicate.bounded_ty.span(), bound);
                            edges.push((lifetime.ident.to_string(), bound.clone(), at));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut forced: HashMap<String, Span> = HashMap::new();
    loop {
        let mut grew = false;
        for (outlives, bound, at) in &edges {
            if forced.contains_key(outlives) {
                continue;
            }
            let root = if bound.ident == "static" {
                Some(*at)
            } else {
                forced.get(&bound.ident.to_string()).copied()
            };
            if let Some(root) = root {
                forced.insert(outlives.clone(), root);
                grew = true;
            }
        }
        if !grew {
            return forced;
        }
    }
}

/// From the bounded lifetime or type to its bound, `'a: 'static`, where
/// the compiler can join the two; the bound alone where it cannot.
fn bound_span(bounded: Span, bound: &Lifetime) -> Span {
    bounded.join(bound.span()).unwrap_or(bound.span())
}

/// The lifetimes a type names.
struct Lifetimes(Vec<Lifetime>);

impl<'ast> Visit<'ast> for Lifetimes {
    fn visit_lifetime(&mut self, lifetime: &'ast Lifetime) {
        self.0.push(lifetime.clone());
    }
}
