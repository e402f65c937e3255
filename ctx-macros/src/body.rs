//! The checked body of a `#[ctx_fn]` fn or of a `#[detached]` task: the
//! entry check, the parameter checks, then the user's block with its
//! awaits raced against the context (`awaits.rs`), and the whole block
//! raced too when it may hide awaits. The way out it generates, `bail`,
//! has its contract in `ctx::__private`'s `body` module.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::visit::Visit;
use syn::visit_mut::VisitMut;
use syn::{Attribute, Block, FnArg, Signature};

use crate::awaits::{
    assigns_context, calls_macro, clone_ident, moves_context, race_body, take_clone, AwaitRewriter,
    RaceTarget,
};
use crate::item::return_span;
use crate::roots::RootFinder;
use crate::signature::CtxParam;
use crate::tokens::{mentions, respan};
use crate::uncancelable::{shield, uncancelable_nested};

/// What a checked body is made of: the fn it belongs to, its context
/// parameter, the user's block, and where it runs.
pub(crate) struct BodyPlan<'a> {
    /// The path of the `ctx` crate.
    pub(crate) krate: &'a TokenStream,
    /// The fn's signature, whose parameters the body owns when it is
    /// raced as a whole (see [`own_params`]).
    pub(crate) sig: &'a mut Signature,
    pub(crate) ctx: &'a CtxParam,
    pub(crate) block: Box<Block>,
    pub(crate) host: Host,
}

/// Where a checked body runs, which decides what it carries besides the
/// user's block.
pub(crate) enum Host {
    /// The body of the `#[ctx_fn]` fn itself: it keeps the fn's inner
    /// attributes (`#![allow(..)]`) and checks the parameters.
    CtxFn { inner_attrs: Vec<Attribute> },
    /// The task a `#[detached]` fn spawns: the fn checks the parameters
    /// and carries the attributes (inner ones are unstable on the task's
    /// `async` block, E0658).
    DetachedTask,
}

/// How the body races its context, decided from its block.
struct Shape {
    /// The body may move its context: its awaits race a clone.
    moves: bool,
    /// The body assigns the context's name (`ctx = child;`).
    assigns: bool,
    /// An `#[uncancelable]` statement stands in a closure or async block.
    uncancelable_nested: bool,
    /// The body is raced as a whole by `race_body`.
    raced_whole: bool,
}

impl Shape {
    fn of(block: &Block, sig: &Signature, ctx: &CtxParam) -> Shape {
        let moves = !ctx.by_ref && moves_context(block, &ctx.ident);
        let assigns = assigns_context(block, &ctx.ident);
        // An async body that calls a macro (which may hide awaits), or
        // holds an `#[uncancelable]` statement in an async block it awaits,
        // is raced as a whole; its awaits then only check the context. Any
        // other races each await on its own, and pays only the entry check
        // per call.
        let uncancelable_nested = uncancelable_nested(block);
        let raced_whole = sig.asyncness.is_some() && (uncancelable_nested || calls_macro(block));
        Shape {
            moves,
            assigns,
            uncancelable_nested,
            raced_whole,
        }
    }

    /// The whole-body race watches a clone of the fn's context when the
    /// body moves the context or assigns its name, which a borrow would
    /// forbid.
    fn watches_clone(&self) -> bool {
        self.moves || (self.assigns && self.raced_whole)
    }
}

impl BodyPlan<'_> {
    /// The checked body, and the errors found in the user's block (new root
    /// contexts, Go's contextcheck).
    pub(crate) fn expand(self) -> (TokenStream, Vec<syn::Error>) {
        let BodyPlan {
            krate,
            sig,
            ctx,
            mut block,
            host,
        } = self;
        let ident = &ctx.ident;
        let mut roots = RootFinder {
            ctx: ident,
            errors: Vec::new(),
        };
        roots.visit_block(&block);

        let shape = Shape::of(&block, sig, ctx);
        let target = if shape.moves {
            RaceTarget::Clone(ident)
        } else {
            RaceTarget::InScope(ident)
        };
        let mut rewriter = AwaitRewriter::new(
            krate,
            target,
            shape.raced_whole,
            shape.uncancelable_nested,
            shape.assigns,
        );
        rewriter.visit_block_mut(&mut block);

        let def = Span::mixed_site();
        // Bound once, at the return type: a wrong return type is one error,
        // there, whatever the number of awaits.
        let at_return = def.located_at(return_span(sig));
        let bail_path = respan(quote!(#krate::__private::bail), at_return);
        let bail = quote_spanned! {at_return=>
            let __bail = #bail_path;
        };
        // Taken again in place where the body assigns the context's name,
        // unless the whole-body race borrows it (then the body takes its
        // own).
        let clone = shape.watches_clone().then(|| {
            let retaken = shape.moves && shape.assigns && !shape.raced_whole;
            take_clone(krate, ident, retaken, def)
        });
        let shield = shield(krate);
        let body = if shape.raced_whole {
            // The race registers once, on the first pending poll, so the
            // awaits themselves only check (and awaits hidden in macros,
            // `select!`, `join!`, are raced too). It borrows the context
            // the awaits check: no clone.
            let watched = if shape.watches_clone() {
                clone_ident()
            } else {
                ident.clone()
            };
            let owned = own_params(sig);
            // The body's own clone, which it takes again where it assigns
            // the context's name, while the race borrows the fn's.
            let own_clone = (shape.moves && shape.assigns)
                .then(|| take_clone(krate, &clone_ident(), true, def));
            let body = quote_spanned!(def=> async { #owned #own_clone #block });
            let raced = race_body(krate, &watched, body, def);
            quote_spanned! {def=>
                match #raced.await {
                    ::core::result::Result::Ok(__output) => __output,
                    ::core::result::Result::Err(__err) => __bail(__err),
                }
            }
        } else {
            block.to_token_stream()
        };
        // A done context returns at once. The whole-body race checks before
        // it first polls the body, which is the same check.
        let entry = (!shape.raced_whole).then(|| {
            quote_spanned! {def=>
                if let ::core::option::Option::Some(__err) = #krate::__private::Context::err(&#ident) {
                    return __bail(__err);
                }
            }
        });
        let (inner_attrs, checks) = match host {
            Host::CtxFn { inner_attrs } => (inner_attrs, Some(&ctx.checks)),
            Host::DetachedTask => (Vec::new(), None),
        };
        let prelude = &ctx.prelude;
        let body = quote_spanned! {def=>
            {
                #(#inner_attrs)*
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
}

/// `let x = x;` for each binding of the fn's parameters, at the top of the
/// async body the whole-body race awaits: the body then owns them.
/// Borrowed from the fn instead, each would be a `&T` held across the
/// race's await, and the fn's future `Send` only for `Sync` parameters (a
/// `Cell`, a generic `T: Send`, an `impl Fn + Send`), where a plain
/// `async fn`'s needs `Send` alone. A `mut` moves to the rebinding, the one
/// the body mutates. (`self` cannot be rebound: it is borrowed, as in a
/// `&self` method.)
///
/// Parameters whose type names a `Context`, the context's own included,
/// stay borrowed: rebound, an invariant one (a `Sender<Context<'static>>`)
/// has borrowck blame the rebinding instead of the `send` the request's
/// context escapes by; and a `Context` being `Sync`, they mostly are too.
fn own_params(sig: &mut Signature) -> TokenStream {
    struct OwnParams(TokenStream);
    impl VisitMut for OwnParams {
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
    let mut own = OwnParams(TokenStream::new());
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
