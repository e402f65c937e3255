//! Code generation for `#[ctx_fn]` and `#[detached]`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{AttrStyle, Attribute, FnArg, ItemFn, Pat, ReturnType, Signature, Type};

use crate::attr::{CtxFnArgs, DetachedArgs};
use crate::awaits::{
    assigns_context, calls_macro, clone_ident, mentions, moves_context, uncancelable_nested,
    AwaitRewriter, RaceTarget,
};
use crate::debug_handler::{into_extractor, is_debug_handler, lend_from_extractor};
use crate::roots::RootFinder;
use crate::signature::{as_written, context_param, is_context, CtxParam};
use crate::static_scope::static_scope;

pub(crate) fn ctx_fn(args: CtxFnArgs, item: TokenStream) -> TokenStream {
    let mut func = match parse_fn(item.clone(), "ctx_fn") {
        Ok(func) => func,
        Err(err) => return with_errors(item, vec![err]),
    };
    let krate = &args.krate.0;
    if let Some(err) = unsupported(&func.sig) {
        return with_errors(as_written(func, krate), vec![err]);
    }
    let written = func.sig.clone();
    let ctx = match context_param(&mut func.sig, krate, true) {
        Ok(ctx) => ctx,
        Err(errors) => {
            func.sig = written;
            return with_errors(as_written(func, krate), errors);
        }
    };
    let mut ctx = ctx;
    let static_scope = static_scope(&written, krate);
    // A handler `#[axum::debug_handler]` checks takes no generics: the
    // context comes from a `'static` extractor, lent to the body.
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
        return with_errors(
            as_written(func, krate),
            static_scope.into_iter().chain(lent).collect(),
        );
    }
    let (inner, outer) = split_inner(func.attrs);
    let checks = &ctx.checks;
    let (body, errors) = checked_body(krate, &mut func.sig, &ctx, &inner, checks, func.block);
    if debug_handler {
        into_extractor(&mut func.sig, &ctx, krate);
    }
    let vis = &func.vis;
    let sig = &func.sig;
    let expanded = quote! {
        #(#outer)*
        #vis #sig #body
    };
    with_errors(expanded, errors)
}

pub(crate) fn detached(args: DetachedArgs, item: TokenStream) -> TokenStream {
    let mut func = match parse_fn(item.clone(), "detached") {
        Ok(func) => func,
        Err(err) => return with_errors(item, vec![err]),
    };
    let krate = &args.krate.0;
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
    let Some(ctx) = ctx.filter(|_| errors.is_empty()) else {
        func.sig = written;
        return with_errors(as_written(func, krate), errors);
    };

    // The body becomes an `async` block, where inner attributes are
    // unstable (E0658): they go on the fn, which in a body they apply to.
    let (inner, mut outer) = split_inner(func.attrs);
    outer.extend(inner.into_iter().map(|mut attr| {
        attr.style = AttrStyle::Outer;
        attr
    }));
    let (body, errors) = checked_body(
        krate,
        &mut func.sig,
        &ctx,
        &[],
        &TokenStream::new(),
        func.block,
    );
    let output = return_type(&func.sig);
    let name = func.sig.ident.to_string();
    let timeout = match args.timeout {
        Some(nanos) => {
            quote!(::core::option::Option::Some(::core::time::Duration::from_nanos(#nanos)))
        }
        None => quote!(::core::option::Option::None),
    };
    let vis = func.vis;
    let mut sig = func.sig;
    sig.asyncness = None;
    sig.output = syn::parse_quote_spanned! {output.span()=>
        -> #krate::__private::Detached<#output>
    };
    let CtxParam {
        ident, pat, checks, ..
    } = ctx;
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
    let movable = movable_args(&sig, &ident, krate);
    let expanded = quote! {
        #(#outer)*
        #[track_caller]
        #vis #sig {
            #checks
            #movable
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

/// Checks, argument by argument and at each argument, that the work can
/// take it to another thread for as long as it runs: `Send + 'static`.
fn movable_args(sig: &Signature, ctx: &syn::Ident, krate: &TokenStream) -> TokenStream {
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

/// Splits a fn's attributes into the body's inner ones (`#![allow(..)]`,
/// which syn lifts out of the block) and the fn's outer ones.
fn split_inner(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)))
}

/// The body of a `#[ctx_fn]` (or of a `#[detached]` task): the entry check,
/// the parameter checks, then the user's block with its awaits raced
/// against the context, and the whole block raced too when it calls a
/// macro that may hide awaits.
fn checked_body(
    krate: &TokenStream,
    sig: &mut Signature,
    ctx: &CtxParam,
    inner: &[Attribute],
    checks: &TokenStream,
    mut block: Box<syn::Block>,
) -> (TokenStream, Vec<syn::Error>) {
    let ident = &ctx.ident;
    let mut roots = RootFinder {
        ctx: ident,
        errors: Vec::new(),
    };
    roots.visit_block(&block);

    let moves = !ctx.by_ref && moves_context(&block, ident);
    let assigns = assigns_context(&block, ident);
    let target = if moves {
        RaceTarget::Clone(ident)
    } else {
        RaceTarget::InScope(ident)
    };
    // An async body that calls a macro (which may hide awaits), or holds an
    // `#[uncancelable]` statement in an async block it awaits, is raced as
    // a whole by a guard; its awaits then only check the context. Any
    // other races each await on its own, and pays only the entry check per call.
    let nested = uncancelable_nested(&block);
    let guarded = sig.asyncness.is_some() && (nested || calls_macro(&block));
    let mut rewriter = AwaitRewriter::new(krate, target, guarded, nested, assigns);
    rewriter.visit_block_mut(&mut block);
    // The guard watches a clone of the fn's context when the body moves
    // the context or assigns its name, which a borrow would forbid.
    let watch_clone = moves || (assigns && guarded);
    let def = Span::mixed_site();
    // Bound once, at the return type: a wrong return type is one error,
    // there, whatever the number of awaits.
    let at_return = def.located_at(return_span(sig));
    let bail_path = respan(quote!(#krate::__private::bail), at_return);
    let bail = quote_spanned! {at_return=>
        let __bail = #bail_path;
    };
    let clone = watch_clone.then(|| {
        let clone = clone_ident();
        // Taken again in place where the body assigns the context's name,
        // unless the guard borrows it (then the body takes its own).
        let mutability = (moves && assigns && !guarded).then(|| quote!(mut));
        quote_spanned! {def=>
            #[allow(unused_mut)]
            let #mutability #clone = #krate::__private::clone_context(&#ident);
        }
    });
    // The body's own clone, which it takes again where it assigns the
    // context's name, while the guard borrows the fn's.
    let own_clone = (guarded && moves && assigns).then(|| {
        let clone = clone_ident();
        quote_spanned! {def=>
            #[allow(unused_mut)]
            let mut #clone = #krate::__private::clone_context(&#clone);
        }
    });
    // Never raised without `#[uncancelable]`, where it costs one store.
    let shield = quote_spanned! {def=>
        let __shield_storage = #krate::__private::Shield::default();
        let __shield = &__shield_storage;
    };
    // The guard races the whole body against the context: it registers
    // once, on the first pending poll, so the awaits themselves only check
    // (and awaits hidden in macros, `select!`, `join!`, are raced too). It
    // borrows the context the awaits check: no clone.
    let body = if guarded {
        let watched = if watch_clone {
            clone_ident()
        } else {
            ident.clone()
        };
        let owned = own_params(sig);
        quote_spanned! {def=>
            match #krate::__private::guard(
                #krate::__private::AsContext::as_context(&#watched),
                __shield,
                async { #owned #own_clone #block },
            ).await {
                ::core::result::Result::Ok(__output) => __output,
                ::core::result::Result::Err(__err) => __bail(__err),
            }
        }
    } else {
        block.to_token_stream()
    };
    // A done context returns at once. A guard checks before it first
    // polls the body, which is the same check.
    let entry = (!guarded).then(|| {
        quote_spanned! {def=>
            if let ::core::option::Option::Some(__err) = #krate::__private::Context::err(&#ident) {
                return __bail(__err);
            }
        }
    });
    let prelude = &ctx.prelude;
    let body = quote_spanned! {def=>
        {
            #(#inner)*
            #prelude
            #bail
            #entry
            #checks
            #clone
            #shield
            #body
        }
    };
    (body, roots.errors)
}

/// `let x = x;` for each binding of the fn's parameters, at the top of the
/// async body the guard awaits: the body then owns them. Borrowed from the
/// fn instead, each would be a `&T` held across the guard's await, and the
/// fn's future `Send` only for `Sync` parameters (a `Cell`, a generic
/// `T: Send`, an `impl Fn + Send`), where a plain `async fn`'s needs `Send`
/// alone. A `mut` moves to the rebinding, the one the body mutates. (`self`
/// cannot be rebound: it is borrowed, as in a `&self` method.)
///
/// Parameters whose type names a `Context`, the context's own included,
/// stay borrowed: rebound, an invariant one (a `Sender<Context<'static>>`)
/// has borrowck blame the rebinding instead of the `send` the request's
/// context escapes by; and a `Context` being `Sync`, they mostly are too.
fn own_params(sig: &mut Signature) -> TokenStream {
    struct Own(TokenStream);
    impl VisitMut for Own {
        fn visit_pat_ident_mut(&mut self, pat: &mut syn::PatIdent) {
            if pat.by_ref.is_none() {
                let mutability = pat.mutability.take();
                let ident = &pat.ident;
                self.0.extend(quote_spanned! {Span::mixed_site()=>
                    let #mutability #ident = #ident;
                });
            }
            syn::visit_mut::visit_pat_ident_mut(self, pat);
        }
    }
    let mut own = Own(TokenStream::new());
    for arg in &mut sig.inputs {
        match arg {
            FnArg::Typed(typed) if !mentions(&typed.ty.to_token_stream(), "Context") => {
                own.visit_pat_mut(&mut typed.pat);
            }
            _ => {}
        }
    }
    own.0
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

/// Whether a value of a type holds a borrow. The error goes on the whole
/// parameter, so where in the type does not matter. The argument types of
/// fn pointers and `Fn` traits (`fn(&str)`, `Box<dyn Fn(&str) + Send>`)
/// are not held: they only say what the callee is given.
struct Borrow(bool);

impl<'ast> Visit<'ast> for Borrow {
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

/// `tokens`, all at `span`: an expression's span runs from its first token
/// to its last, and rustc reports an error at a span that straddles two
/// expansions at the macro's call site.
pub(crate) fn respan(tokens: TokenStream, span: Span) -> TokenStream {
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
