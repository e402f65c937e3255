//! Rewrites the `.await`s of a `#[ctx_fn]` body into races against the
//! context, and `#[uncancelable]` statements into shielded ones.
//!
//! Like async-trait's rewriters it never enters nested items. Closures and
//! async blocks are another future's code, which may run after this fn has
//! returned: their awaits are left alone (the block is raced as a whole
//! where the fn awaits it), and only their `#[uncancelable]` marks are
//! honoured.

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::{self, Visit};
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, Block, Expr, Item, Macro, Stmt, Token};

use crate::expand::respan;

/// The attribute that exempts every `.await` of one statement.
const UNCANCELABLE: &str = "uncancelable";

/// Whether the fn's own body calls a macro, any macro: its expansion may
/// hold awaits nobody can see (`select!`, `join!`), so the body is raced
/// as a whole. Closures, async blocks and items are other futures, raced
/// where the fn awaits them.
pub(crate) fn calls_macro(block: &Block) -> bool {
    struct Finder(bool);
    impl<'ast> Visit<'ast> for Finder {
        fn visit_macro(&mut self, _: &'ast Macro) {
            self.0 = true;
        }
        fn visit_expr(&mut self, expr: &'ast Expr) {
            if !matches!(expr, Expr::Closure(_) | Expr::Async(_)) {
                visit::visit_expr(self, expr);
            }
        }
        fn visit_item(&mut self, _: &'ast Item) {}
    }
    let mut finder = Finder(false);
    finder.visit_block(block);
    finder.0
}

/// Whether `#[uncancelable]` marks a statement inside a closure or async
/// block of `block` (which the fn awaits as a whole): then a race of a
/// shadowing derivation must respect the shield too.
pub(crate) fn uncancelable_nested(block: &Block) -> bool {
    struct Finder {
        found: bool,
        depth: usize,
    }
    impl VisitMut for Finder {
        fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
            let marked =
                stmt_attrs_mut(stmt).is_some_and(|attrs| attrs.iter().any(is_uncancelable));
            self.found |= marked && self.depth > 0;
            visit_mut::visit_stmt_mut(self, stmt);
        }
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            let nested = matches!(expr, Expr::Closure(_) | Expr::Async(_));
            self.depth += usize::from(nested);
            visit_mut::visit_expr_mut(self, expr);
            self.depth -= usize::from(nested);
        }
        fn visit_item_mut(&mut self, _: &mut Item) {}
    }
    let mut finder = Finder {
        found: false,
        depth: 0,
    };
    // The attributes are reached through `&mut` only; a scan of a copy
    // keeps one accessor for both passes.
    finder.visit_block_mut(&mut block.clone());
    finder.found
}

/// Rewrites the fn's own `.await`s.
///
/// Each await races the context in scope (`Context::run`). In a body the
/// guard races as a whole (one that calls a macro; see `checked_body`),
/// which registers with the fn's context once, on the first pending poll,
/// an await only *checks* the context before it polls, except where the
/// name of the context is shadowed by a derivation, which the guard does
/// not watch.
pub(crate) struct AwaitRewriter<'a> {
    pub(crate) krate: &'a TokenStream,
    /// What each await checks (see [`RaceTarget`]).
    pub(crate) target: RaceTarget<'a>,
    /// Whether a race must respect the shield (an `#[uncancelable]`
    /// statement inside an async block this fn awaits).
    shielded: bool,
    /// Whether the body is raced as a whole by a guard, so that an await
    /// only has to check the context before it polls.
    guarded: bool,
    /// Whether a `let` of this block, or of an enclosing one, has shadowed
    /// the context's name before the statement being rewritten.
    shadowed: bool,
}

impl<'a> AwaitRewriter<'a> {
    pub(crate) fn new(
        krate: &'a TokenStream,
        target: RaceTarget<'a>,
        guarded: bool,
        uncancelable_nested: bool,
    ) -> Self {
        AwaitRewriter {
            krate,
            target,
            shielded: uncancelable_nested,
            guarded,
            shadowed: false,
        }
    }
}

/// The context the awaits check.
pub(crate) enum RaceTarget<'a> {
    /// The body never moves its context: each await borrows whatever the
    /// context's name means where the await stands, at no cost.
    InScope(&'a Ident),
    /// The body moves its context (into a call, a closure, an async
    /// block): the awaits check a hygienic clone taken at entry, taken
    /// again after each `let` that shadows the name.
    Clone(&'a Ident),
}

impl RaceTarget<'_> {
    fn name(&self) -> &Ident {
        match self {
            RaceTarget::InScope(ctx) | RaceTarget::Clone(ctx) => ctx,
        }
    }
}

/// The hygienic clone of [`RaceTarget::Clone`].
pub(crate) fn clone_ident() -> Ident {
    Ident::new("__ctx", Span::mixed_site())
}

impl VisitMut for AwaitRewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) => {
                Shielder.visit_expr_mut(expr);
            }
            Expr::Await(await_expr) => {
                self.visit_expr_mut(&mut await_expr.base);
                let span = await_expr.await_token.span;
                *expr = Expr::Verbatim(self.check(&await_expr.base, span));
            }
            Expr::Macro(mac) => self.visit_macro_call(&mut mac.mac),
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_block_mut(&mut self, block: &mut Block) {
        let shadowed_outside = self.shadowed;
        let ctx = self.target.name().clone();
        shield_statements(block, |stmt| {
            self.visit_stmt_mut(stmt);
            if matches!(&*stmt, Stmt::Local(local) if binds(&local.pat, &ctx)) {
                self.shadowed = true;
            }
        });
        self.shadowed = shadowed_outside;
        if let RaceTarget::Clone(ctx) = self.target {
            rebind_after_shadowing(block, ctx, self.krate);
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(mac) = stmt {
            self.visit_macro_call(&mut mac.mac);
            return;
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

impl AwaitRewriter<'_> {
    /// `base.await`, checked against the context.
    fn check(&self, base: &Expr, span: Span) -> TokenStream {
        let krate = self.krate;
        let def = Span::mixed_site().located_at(span);
        let ctx = match self.target {
            // The name as the user's code sees it at the await, so it
            // resolves to the nearest binding (a hygienic one stays
            // hygienic).
            RaceTarget::InScope(ctx) => {
                let mut ctx = ctx.clone();
                ctx.set_span(ctx.span().located_at(span));
                ctx
            }
            RaceTarget::Clone(_) => clone_ident(),
        };
        // Each call carries the `.await`'s own span, which is where a
        // `#[track_caller]` location (a cancellation point of
        // `ctx::testing`) is reported; a mixed-site one would be reported
        // at the attribute.
        let private = |name: &str| {
            let name = Ident::new(name, span);
            respan(quote!(#krate::__private::#name), span)
        };
        let raced = if self.guarded && !self.shadowed {
            // The guard races the pending awaits: check, then poll.
            let base = quote_spanned!(def=> (#base));
            let check = private("check");
            let check = quote_spanned!(span=> #check(&#ctx));
            return quote_spanned! {def=>
                match #check {
                    ::core::option::Option::Some(__err) => return __bail(__err),
                    ::core::option::Option::None => #base.await,
                }
            };
        } else if self.shielded {
            quote_spanned! {def=>
                #krate::__private::guard(#krate::__private::AsContext::as_context(&#ctx), __shield, #base)
            }
        } else {
            let checkpoint = private("checkpoint");
            quote_spanned! {span=> #checkpoint(&#ctx, #base) }
        };
        quote_spanned! {def=>
            match #raced.await {
                ::core::result::Result::Ok(__output) => __output,
                ::core::result::Result::Err(__err) => return __bail(__err),
            }
        }
    }

    /// A macro call in the fn's own body: when its arguments parse as
    /// expressions (`format!`, `assert!`, `vec!`), their awaits are checked
    /// like any other. Awaits a macro hides in its own expansion
    /// (`select!`, `join!`) are raced by the fn's guard.
    fn visit_macro_call(&mut self, mac: &mut Macro) {
        if !mentions(&mac.tokens, "await") {
            return;
        }
        let parser = Punctuated::<Expr, Token![,]>::parse_terminated;
        if let Ok(mut args) = parser.parse2(mac.tokens.clone()) {
            for arg in args.iter_mut() {
                self.visit_expr_mut(arg);
            }
            mac.tokens = args.into_token_stream();
        }
    }
}

/// Strips `#[uncancelable]` inside closures and async blocks, raising the
/// shield around each marked statement; their awaits are left alone.
struct Shielder;

impl VisitMut for Shielder {
    fn visit_block_mut(&mut self, block: &mut Block) {
        shield_statements(block, |stmt| self.visit_stmt_mut(stmt));
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// Visits each statement of `block` with `visit`, except those marked
/// `#[uncancelable]`: their mark is removed, their awaits left plain, and
/// the fn's shield is raised while they run, so its guard lets them finish.
fn shield_statements(block: &mut Block, mut visit: impl FnMut(&mut Stmt)) {
    let mut stmts = Vec::with_capacity(block.stmts.len());
    for mut stmt in block.stmts.drain(..) {
        let marked = stmt_attrs_mut(&mut stmt).is_some_and(|attrs| {
            let before = attrs.len();
            attrs.retain(|attr| !is_uncancelable(attr));
            attrs.len() != before
        });
        if !marked {
            visit(&mut stmt);
            stmts.push(stmt);
            continue;
        }
        let span = Span::mixed_site().located_at(stmt.span());
        let hold = quote_spanned!(span=> let __shield_held = __shield.hold(););
        match stmt {
            // A `let` binds into this block: keep it here, between raising
            // and lowering the shield.
            Stmt::Local(_) => {
                stmts.push(syn::parse_quote!(#hold));
                stmts.push(stmt);
                stmts.push(syn::parse_quote_spanned!(span=> ::core::mem::drop(__shield_held);));
            }
            Stmt::Expr(expr, semi) => {
                let wrapped = Expr::Verbatim(quote_spanned!(span=> { #hold #expr }));
                stmts.push(Stmt::Expr(wrapped, semi));
            }
            Stmt::Macro(mac) => {
                let wrapped = Expr::Verbatim(quote_spanned!(span=> { #hold #mac }));
                stmts.push(Stmt::Expr(wrapped, None));
            }
            Stmt::Item(_) => stmts.push(stmt),
        }
    }
    block.stmts = stmts;
}

/// Removes every `#[uncancelable]` mark, which nothing else defines: for
/// a body emitted as written beside an error.
pub(crate) fn strip_uncancelable(block: &mut Block) {
    struct Strip;
    impl VisitMut for Strip {
        fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
            if let Some(attrs) = stmt_attrs_mut(stmt) {
                attrs.retain(|attr| !is_uncancelable(attr));
            }
            visit_mut::visit_stmt_mut(self, stmt);
        }
        fn visit_item_mut(&mut self, _: &mut Item) {}
    }
    Strip.visit_block_mut(block);
}

fn is_uncancelable(attr: &Attribute) -> bool {
    attr.path().is_ident(UNCANCELABLE)
}

/// Whether `block` may move the context named `ctx` (a bare use, or any
/// use inside a closure, async block or macro, conservatively). Method
/// calls (`ctx.clone()`), references and field reads only borrow it.
pub(crate) fn moves_context(block: &Block, ctx: &Ident) -> bool {
    struct Moves<'a> {
        ctx: &'a Ident,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Moves<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::Path(path) => self.found |= path.path.is_ident(self.ctx),
                Expr::MethodCall(call) if is_ctx(&call.receiver, self.ctx) => {
                    call.args.iter().for_each(|arg| self.visit_expr(arg));
                }
                Expr::Reference(reference) if is_ctx(&reference.expr, self.ctx) => {}
                Expr::Field(field) if is_ctx(&field.base, self.ctx) => {}
                Expr::Closure(_) | Expr::Async(_) => {
                    self.found |= mentions(&expr.to_token_stream(), &self.ctx.to_string());
                }
                _ => visit::visit_expr(self, expr),
            }
        }
        fn visit_macro(&mut self, mac: &'ast Macro) {
            self.found |= mentions(&mac.tokens, &self.ctx.to_string());
        }
        fn visit_item(&mut self, _: &'ast Item) {}
    }
    fn is_ctx(expr: &Expr, ctx: &Ident) -> bool {
        matches!(expr, Expr::Path(path) if path.path.is_ident(ctx))
    }
    let mut finder = Moves { ctx, found: false };
    finder.visit_block(block);
    finder.found
}

/// After each `let` of `block` that binds the name `ctx` (a shadowing
/// derivation), takes the hygienic clone the awaits race again.
fn rebind_after_shadowing(block: &mut Block, ctx: &Ident, krate: &TokenStream) {
    let mut stmts = Vec::with_capacity(block.stmts.len());
    for stmt in block.stmts.drain(..) {
        let shadows = matches!(&stmt, Stmt::Local(local) if binds(&local.pat, ctx));
        // At the shadowing `let`: where a non-context binding is reported.
        let at = Span::mixed_site().located_at(stmt.span());
        stmts.push(stmt);
        if shadows {
            let clone = clone_ident();
            let mut ctx = ctx.clone();
            ctx.set_span(ctx.span().located_at(at));
            stmts.push(syn::parse_quote_spanned! {at=>
                let #clone = #krate::__private::clone_context(&#ctx);
            });
        }
    }
    block.stmts = stmts;
}

/// Whether a pattern binds the name `ctx`.
fn binds(pat: &syn::Pat, ctx: &Ident) -> bool {
    struct Binds<'a> {
        ctx: &'a Ident,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Binds<'_> {
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.found |= pat.ident == *self.ctx;
            visit::visit_pat_ident(self, pat);
        }
    }
    let mut finder = Binds { ctx, found: false };
    finder.visit_pat(pat);
    finder.found
}

/// Whether `tokens` contain the identifier `name`, at any depth.
pub(crate) fn mentions(tokens: &TokenStream, name: &str) -> bool {
    tokens.clone().into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => mentions(&group.stream(), name),
        _ => false,
    })
}

/// The outer attributes of a statement, where `#[uncancelable]` may sit.
fn stmt_attrs_mut(stmt: &mut Stmt) -> Option<&mut Vec<Attribute>> {
    match stmt {
        Stmt::Local(local) => Some(&mut local.attrs),
        Stmt::Macro(mac) => Some(&mut mac.attrs),
        Stmt::Item(_) => None,
        Stmt::Expr(expr, _) => expr_attrs_mut(expr),
    }
}

fn expr_attrs_mut(expr: &mut Expr) -> Option<&mut Vec<Attribute>> {
    Some(match expr {
        Expr::Array(e) => &mut e.attrs,
        Expr::Assign(e) => &mut e.attrs,
        Expr::Async(e) => &mut e.attrs,
        Expr::Await(e) => &mut e.attrs,
        Expr::Binary(e) => &mut e.attrs,
        Expr::Block(e) => &mut e.attrs,
        Expr::Call(e) => &mut e.attrs,
        Expr::Cast(e) => &mut e.attrs,
        Expr::Field(e) => &mut e.attrs,
        Expr::ForLoop(e) => &mut e.attrs,
        Expr::If(e) => &mut e.attrs,
        Expr::Index(e) => &mut e.attrs,
        Expr::Loop(e) => &mut e.attrs,
        Expr::Macro(e) => &mut e.attrs,
        Expr::Match(e) => &mut e.attrs,
        Expr::MethodCall(e) => &mut e.attrs,
        Expr::Paren(e) => &mut e.attrs,
        Expr::Reference(e) => &mut e.attrs,
        Expr::Return(e) => &mut e.attrs,
        Expr::Struct(e) => &mut e.attrs,
        Expr::Try(e) => &mut e.attrs,
        Expr::Tuple(e) => &mut e.attrs,
        Expr::Unary(e) => &mut e.attrs,
        Expr::Unsafe(e) => &mut e.attrs,
        Expr::While(e) => &mut e.attrs,
        _ => return None,
    })
}
