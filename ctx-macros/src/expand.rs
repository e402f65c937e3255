//! Code generation for `#[ctx_fn]` and `#[detached]`.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{FnArg, ItemFn, Pat, PatIdent, ReturnType, Signature, Type};

use crate::attr::{CtxFnArgs, DetachedArgs};
use crate::visit::{AwaitRewriter, MisuseFinder};

pub(crate) fn ctx_fn(args: CtxFnArgs, item: TokenStream) -> TokenStream {
    let mut func = match parse_fn(item.clone(), "ctx_fn") {
        Ok(func) => func,
        Err(err) => return with_errors(item, vec![err]),
    };
    let krate = &args.krate.0;
    let ctx = match context_param(&mut func.sig, Some(krate)) {
        Ok(ctx) => ctx.ident,
        Err(errors) => return with_errors(item, errors),
    };
    let (body, errors) = checked_body(krate, &func.sig, &ctx, func.block);
    let ItemFn {
        attrs, vis, sig, ..
    } = func;
    let expanded = quote! {
        #(#attrs)*
        #vis #sig #body
    };
    with_errors(expanded, errors)
}

pub(crate) fn detached(args: DetachedArgs, item: TokenStream) -> TokenStream {
    let mut func = match parse_fn(item.clone(), "detached") {
        Ok(func) => func,
        Err(err) => return with_errors(item, vec![err]),
    };
    let mut errors = Vec::new();
    if func.sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            func.sig.fn_token.span,
            "`#[detached]` goes on an `async fn`: add `async`, its body runs as a spawned task",
        ));
    }
    errors.extend(borrowed_params(&func.sig));
    let ctx = match context_param(&mut func.sig, None) {
        Ok(ctx) => Some(ctx),
        Err(found) => {
            errors.extend(found);
            None
        }
    };
    let Some(ctx) = ctx.filter(|_| errors.is_empty()) else {
        return with_errors(item, errors);
    };

    let krate = &args.krate.0;
    let (body, errors) = checked_body(krate, &func.sig, &ctx.ident, func.block);
    let output = return_type(&func.sig);
    let name = func.sig.ident.to_string();
    let timeout = match args.timeout {
        Some(nanos) => {
            quote!(::core::option::Option::Some(::core::time::Duration::from_nanos(#nanos)))
        }
        None => quote!(::core::option::Option::None),
    };
    let ItemFn {
        attrs,
        vis,
        mut sig,
        ..
    } = func;
    sig.asyncness = None;
    sig.output = syn::parse_quote_spanned! {output.span()=>
        -> #krate::__private::Detached<#output>
    };
    let CtxParam { ident, pat } = ctx;
    // The pattern as written binds the task's context; the outer fn only
    // borrows the parameter, where a `mut` would be unused.
    for arg in &mut sig.inputs {
        if let FnArg::Typed(typed) = arg {
            if let Pat::Ident(param) = &mut *typed.pat {
                if param.ident == ident {
                    param.mutability = None;
                }
            }
        }
    }
    let expanded = quote! {
        #(#attrs)*
        #[track_caller]
        #vis #sig {
            #krate::__private::detach::<#output, _, _>(
                #name,
                &#ident,
                #timeout,
                move |#pat: #krate::__private::Context<'static>| async move #body,
            )
        }
    };
    with_errors(expanded, errors)
}

/// The body of a `#[ctx_fn]` (or of a `#[detached]` task): the entry check,
/// then the user's block with its awaits raced against the context.
fn checked_body(
    krate: &TokenStream,
    sig: &Signature,
    ctx: &Ident,
    mut block: Box<syn::Block>,
) -> (TokenStream, Vec<syn::Error>) {
    let mut misuse = MisuseFinder::new(ctx);
    misuse.visit_block(&block);
    let mut rewriter = AwaitRewriter {
        krate,
        rewritten: 0,
    };
    rewriter.visit_block_mut(&mut block);

    let def = Span::mixed_site();
    // Bound once, at the return type: a wrong return type is one error,
    // there, whatever the number of awaits.
    let at_return = def.located_at(return_span(sig));
    let bail_path = respan(quote!(#krate::__private::bail), at_return);
    let bail = quote_spanned! {at_return=>
        let __bail = #bail_path;
    };
    // The races borrow a clone, so the body may still move `ctx` into the
    // very expression it awaits.
    let clone = (rewriter.rewritten > 0).then(|| {
        quote_spanned! {def=>
            let __ctx = #krate::__private::Context::clone(&#ctx);
        }
    });
    let body = quote_spanned! {def=>
        {
            #bail
            if let ::core::option::Option::Some(__err) = #krate::__private::Context::err(&#ctx) {
                return __bail(__err);
            }
            #clone
            #block
        }
    };
    (body, misuse.errors)
}

struct CtxParam {
    /// The name the body knows the context by.
    ident: Ident,
    /// The parameter's pattern as written (`ctx`, `mut ctx`).
    pat: Box<Pat>,
}

/// Finds the context parameter, which must come first (after `self`). When
/// there is none and `insert` names the crate, `ctx: Context` is inserted.
fn context_param(
    sig: &mut Signature,
    insert: Option<&TokenStream>,
) -> Result<CtxParam, Vec<syn::Error>> {
    let first = usize::from(matches!(sig.inputs.first(), Some(FnArg::Receiver(_))));
    let mut found: Option<usize> = None;
    let mut errors = Vec::new();
    for (index, arg) in sig.inputs.iter().enumerate() {
        let FnArg::Typed(typed) = arg else { continue };
        if !is_context(&typed.ty) {
            continue;
        }
        if found.is_some() {
            errors.push(syn::Error::new_spanned(
                arg,
                "remove this second context parameter: a fn takes one context (derive others from it inside)",
            ));
        } else if index != first {
            errors.push(syn::Error::new_spanned(
                arg,
                "move the context parameter first (after `self`): by convention a context is always the first argument",
            ));
            found = Some(index);
        } else {
            found = Some(index);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let index = match (found, insert) {
        (Some(index), _) => index,
        (None, Some(krate)) => {
            let inserted: FnArg = syn::parse_quote!(ctx: #krate::__private::Context<'_>);
            sig.inputs.insert(first, inserted);
            first
        }
        (None, None) => {
            let span = sig.inputs.first().map_or(sig.ident.span(), Spanned::span);
            return Err(vec![syn::Error::new(
                span,
                "add the context as the first parameter (after `self`), e.g. `ctx: Context`: detached work derives its context from it",
            )]);
        }
    };
    let FnArg::Typed(typed) = &mut sig.inputs[index] else {
        unreachable!("the context parameter is a typed parameter")
    };
    add_scope(&mut typed.ty);
    match &*typed.pat {
        Pat::Ident(PatIdent {
            ident,
            subpat: None,
            by_ref: None,
            ..
        }) => Ok(CtxParam {
            ident: ident.clone(),
            pat: typed.pat.clone(),
        }),
        // The body cannot name `_`, but the generated code must.
        Pat::Wild(wild) => {
            let ident = Ident::new("__ctx_param", Span::mixed_site().located_at(wild.span()));
            *typed.pat = syn::parse_quote!(#ident);
            Ok(CtxParam {
                ident,
                pat: typed.pat.clone(),
            })
        }
        other => Err(vec![syn::Error::new_spanned(
            other,
            "bind the context parameter to a name, like `ctx: Context`",
        )]),
    }
}

/// Whether a parameter's type is the context: `Context` or `&Context`, by
/// any path (`ctx::Context`), without generic arguments (which
/// `std::task::Context<'_>` has).
fn is_context(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) => reference.mutability.is_none() && is_context(&reference.elem),
        Type::Path(path) => {
            path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == "Context" && scope_only(&last.arguments))
        }
        Type::Paren(paren) => is_context(&paren.elem),
        Type::Group(group) => is_context(&group.elem),
        _ => false,
    }
}

/// No generic arguments, or one lifetime: `Context`, `Context<'_>`.
fn scope_only(arguments: &syn::PathArguments) -> bool {
    match arguments {
        syn::PathArguments::None => true,
        syn::PathArguments::AngleBracketed(args) => {
            args.args.len() == 1
                && matches!(args.args.first(), Some(syn::GenericArgument::Lifetime(_)))
        }
        syn::PathArguments::Parenthesized(_) => false,
    }
}

/// Writes the context's elided scope out as `'_`, which an `async fn`
/// requires.
fn add_scope(ty: &mut Type) {
    match ty {
        Type::Reference(reference) => add_scope(&mut reference.elem),
        Type::Paren(paren) => add_scope(&mut paren.elem),
        Type::Group(group) => add_scope(&mut group.elem),
        Type::Path(path) => {
            if let Some(last) = path.path.segments.last_mut() {
                if last.arguments.is_empty() {
                    last.arguments = syn::PathArguments::AngleBracketed(syn::parse_quote!(<'_>));
                }
            }
        }
        _ => {}
    }
}

/// The parameters a spawned task could not hold: borrows, and anything
/// with a lifetime other than `'static`.
fn borrowed_params(sig: &Signature) -> Vec<syn::Error> {
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Receiver(receiver) if matches!(receiver.kind, syn::ReceiverKind::Reference(..)) => Some(syn::Error::new_spanned(
                receiver,
                "take `self` by value (e.g. `self: Arc<Self>`): `#[detached]` work outlives its caller, so it cannot borrow `self`",
            )),
            FnArg::Receiver(_) => None,
            FnArg::Typed(typed) => {
                let mut finder = Borrow(false);
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

/// Whether a type borrows. The error goes on the whole parameter, so
/// where in the type does not matter.
struct Borrow(bool);

impl<'ast> Visit<'ast> for Borrow {
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

/// `tokens`, all at `span`: an expression's span runs from its first token
/// to its last, and rustc reports an error at a span that straddles two
/// expansions at the macro's call site.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner =
                    proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            }
            token.set_span(span);
            token
        })
        .collect()
}

/// Where an error about the fn's return type goes: the type, or the fn's
/// name when there is none.
fn return_span(sig: &Signature) -> Span {
    match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    }
}

/// The fn's return type, `()` when it has none.
fn return_type(sig: &Signature) -> TokenStream {
    match &sig.output {
        ReturnType::Type(_, ty) => ty.to_token_stream(),
        ReturnType::Default => quote_spanned!(sig.ident.span()=> ()),
    }
}

fn parse_fn(item: TokenStream, macro_name: &str) -> syn::Result<ItemFn> {
    syn::parse2::<ItemFn>(item.clone()).map_err(|_| {
        syn::Error::new(
            item_keyword_span(item),
            format!("`#[{macro_name}]` goes on a fn with a body; this is not one"),
        )
    })
}

/// The span of an item's keyword (`struct`, `fn`, ...), past its attributes
/// and visibility: short enough to point at.
fn item_keyword_span(item: TokenStream) -> Span {
    let mut tokens = item.into_iter().peekable();
    while let Some(token) = tokens.next() {
        match &token {
            TokenTree::Punct(punct) if punct.as_char() == '#' => {
                tokens.next();
            }
            TokenTree::Ident(ident) if ident == "pub" => {
                if matches!(tokens.peek(), Some(TokenTree::Group(_))) {
                    tokens.next();
                }
            }
            _ => return token.span(),
        }
    }
    Span::call_site()
}

/// The expansion, or the item as written when the macro could not expand
/// it, followed by the errors: the item is still defined, so one mistake
/// gives one error and not a cascade at every use.
fn with_errors(item: TokenStream, errors: Vec<syn::Error>) -> TokenStream {
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! {
        #(#errors)*
        #item
    }
}
