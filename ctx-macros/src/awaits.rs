//! Rewrites the `.await`s of a checked body into races against the
//! context (its `#[uncancelable]` statements shielded by
//! `uncancelable.rs`); and generates every other use of the races' runtime
//! (the body's clone of its context, the whole-body race), whose contract
//! `ctx::__private`'s `awaits` module states.
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
use syn::{Block, Expr, Item, Macro, Stmt, Token};

use crate::tokens::{mentions, respan};
use crate::uncancelable::{shield_statements, Shielder};

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

/// Rewrites the fn's own `.await`s.
///
/// Each await races the context in scope (`race`). In a body raced as a
/// whole (one that calls a macro; see `body.rs`), whose race registers
/// with the fn's context once, on the first pending poll, an await only
/// *checks* the context before it polls, except where the name of the
/// context is shadowed by a derivation, which the whole-body race does not
/// watch.
pub(crate) struct AwaitRewriter<'a> {
    pub(crate) krate: &'a TokenStream,
    /// What each await checks (see [`RaceTarget`]).
    pub(crate) target: RaceTarget<'a>,
    /// Whether a race must respect the shield (an `#[uncancelable]`
    /// statement inside an async block this fn awaits).
    shielded: bool,
    /// Whether the body is raced as a whole ([`race_body`]), so that an
    /// await only has to check the context before it polls.
    body_raced: bool,
    /// Whether the context's name may mean another binding than the fn's
    /// context where the rewriter stands: a `let` of this block or of an
    /// enclosing one has shadowed it, or a `match` arm, `if let`,
    /// `while let` or `for` pattern binds it; or the body assigns it.
    shadowed: bool,
    /// With [`RaceTarget::Clone`]: whether the binding the context's name
    /// has where the rewriter stands has its own clone, taken when it was
    /// bound because a checked await stands in its scope. Assigning it
    /// then takes the clone again.
    tracked: bool,
    /// Whether the body assigns the context's name, so that the clones of
    /// [`RaceTarget::Clone`] are taken again in place (`let mut`).
    assigns: bool,
}

impl<'a> AwaitRewriter<'a> {
    /// `assigns`: whether the body assigns the context's name (see
    /// [`assigns_context`]); then every await races the context in scope,
    /// not only those after a shadowing binding.
    pub(crate) fn new(
        krate: &'a TokenStream,
        target: RaceTarget<'a>,
        body_raced: bool,
        uncancelable_nested: bool,
        assigns: bool,
    ) -> Self {
        AwaitRewriter {
            krate,
            target,
            shielded: uncancelable_nested,
            body_raced,
            shadowed: assigns,
            tracked: true,
            assigns,
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

/// `let [mut] __ctx = clone_context(&source);` at `at`: the clone of
/// [`RaceTarget::Clone`], `mut` where the body assigns the context's name
/// (then the rewriter takes it again there, with `reclone`).
pub(crate) fn take_clone(
    krate: &TokenStream,
    source: &Ident,
    mutable: bool,
    at: Span,
) -> TokenStream {
    let clone = clone_ident();
    let mutability = mutable.then(|| quote!(mut));
    quote_spanned! {at=>
        #[allow(unused_mut)]
        let #mutability #clone = #krate::__private::clone_context(&#source);
    }
}

/// `race_body(&ctx, __shield, body)` at `at`: `body` raced against the
/// context `ctx` names, except while the shield is held.
pub(crate) fn race_body(
    krate: &TokenStream,
    ctx: &Ident,
    body: TokenStream,
    at: Span,
) -> TokenStream {
    quote_spanned! {at=>
        #krate::__private::race_body(#krate::__private::AsContext::as_context(&#ctx), __shield, #body)
    }
}

impl VisitMut for AwaitRewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        let ctx = self.target.name().clone();
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
            Expr::Match(expr_match) => {
                self.visit_expr_mut(&mut expr_match.expr);
                for arm in &mut expr_match.arms {
                    let at = binding(&arm.pat, &ctx);
                    let binds = at.is_some();
                    let at = at.unwrap_or_else(|| arm.pat.span());
                    let outside = self.enter(binds, || {
                        matches!(&arm.pat, syn::Pat::Guard(pat) if expr_awaits(&pat.guard))
                            || expr_awaits(&arm.body)
                    });
                    if let syn::Pat::Guard(pat) = &mut arm.pat {
                        self.visit_expr_mut(&mut pat.guard);
                        self.refresh_expr(binds, &mut pat.guard, at);
                    }
                    self.visit_expr_mut(&mut arm.body);
                    self.refresh_expr(binds, &mut arm.body, at);
                    (self.shadowed, self.tracked) = outside;
                }
            }
            Expr::If(expr_if) => {
                match &mut *expr_if.cond {
                    Expr::Let(cond) if binds(&cond.pat, &ctx) => {
                        self.visit_expr_mut(&mut cond.expr);
                        let at = binding(&cond.pat, &ctx).unwrap_or_else(|| cond.pat.span());
                        self.visit_bound_block(&mut expr_if.then_branch, at);
                    }
                    cond => {
                        self.visit_expr_mut(cond);
                        self.visit_block_mut(&mut expr_if.then_branch);
                    }
                }
                if let Some((_, else_branch)) = &mut expr_if.else_branch {
                    self.visit_expr_mut(else_branch);
                }
            }
            Expr::While(expr_while) => match &mut *expr_while.cond {
                Expr::Let(cond) if binds(&cond.pat, &ctx) => {
                    self.visit_expr_mut(&mut cond.expr);
                    let at = binding(&cond.pat, &ctx).unwrap_or_else(|| cond.pat.span());
                    self.visit_bound_block(&mut expr_while.body, at);
                }
                cond => {
                    self.visit_expr_mut(cond);
                    self.visit_block_mut(&mut expr_while.body);
                }
            },
            Expr::ForLoop(expr_for) => {
                self.visit_expr_mut(&mut expr_for.expr);
                if let Some(at) = binding(&expr_for.pat, &ctx) {
                    self.visit_bound_block(&mut expr_for.body, at);
                } else {
                    self.visit_block_mut(&mut expr_for.body);
                }
            }
            Expr::Assign(assign) if is_ctx(&assign.left, &ctx) => {
                self.visit_expr_mut(&mut assign.right);
                if matches!(self.target, RaceTarget::Clone(_)) && self.tracked {
                    let assign = assign.clone();
                    let at = Span::mixed_site().located_at(assign.span());
                    let reclone = self.private("reclone", at);
                    let clone = clone_ident();
                    let ctx = located(&ctx, at);
                    *expr = Expr::Verbatim(quote_spanned! {at=>
                        { #assign; #reclone(&mut #clone, &#ctx); }
                    });
                }
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_block_mut(&mut self, block: &mut Block) {
        let outside = (self.shadowed, self.tracked);
        let ctx = self.target.name().clone();
        // Whether a checked await follows each statement in the block.
        let mut awaits_after = vec![false; block.stmts.len()];
        for index in (1..block.stmts.len()).rev() {
            awaits_after[index - 1] = awaits_after[index] || stmt_awaits(&block.stmts[index]);
        }
        shield_statements(block, |index, stmt| {
            self.visit_stmt_mut(stmt);
            let Stmt::Local(local) = &*stmt else {
                return None;
            };
            if !binds(&local.pat, &ctx) {
                return None;
            }
            self.shadowed = true;
            self.tracked = awaits_after[index];
            let at = Span::mixed_site().located_at(local.span());
            self.refresh(at).map(|refresh| syn::parse_quote!(#refresh))
        });
        (self.shadowed, self.tracked) = outside;
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
    /// Enters the scope of a pattern that may bind the context's name;
    /// `awaits` says whether a checked await stands in that scope. Returns
    /// the state to restore when the scope ends.
    fn enter(&mut self, binds: bool, awaits: impl FnOnce() -> bool) -> (bool, bool) {
        let outside = (self.shadowed, self.tracked);
        if binds {
            self.shadowed = true;
            self.tracked = awaits();
        }
        outside
    }

    /// A block in the scope of a pattern (`if let`, `while let`, `for`)
    /// that binds the context's name, at `at`.
    fn visit_bound_block(&mut self, block: &mut Block, at: Span) {
        let outside = self.enter(true, || block.stmts.iter().any(stmt_awaits));
        self.visit_block_mut(block);
        if let Some(refresh) = self.refresh(Span::mixed_site().located_at(at)) {
            block.stmts.insert(0, syn::parse_quote!(#refresh));
        }
        (self.shadowed, self.tracked) = outside;
    }

    /// `{ <refresh> expr }` where a pattern has bound the context's name.
    fn refresh_expr(&self, binds: bool, expr: &mut Expr, at: Span) {
        if !binds {
            return;
        }
        if let Some(refresh) = self.refresh(Span::mixed_site().located_at(at)) {
            *expr = Expr::Verbatim(quote_spanned!(at=> { #refresh #expr }));
        }
    }

    /// With [`RaceTarget::Clone`], where a binding of the context's name
    /// has a checked await in its scope: the statement that takes the
    /// awaits' clone of it, at `at`.
    fn refresh(&self, at: Span) -> Option<TokenStream> {
        let RaceTarget::Clone(ctx) = self.target else {
            return None;
        };
        if !self.tracked {
            return None;
        }
        Some(take_clone(self.krate, &located(ctx, at), self.assigns, at))
    }

    /// `#krate::__private::#name`, all at `span`.
    fn private(&self, name: &str, span: Span) -> TokenStream {
        let krate = self.krate;
        let name = Ident::new(name, span);
        respan(quote!(#krate::__private::#name), span)
    }
}

/// `ctx` as the user's code sees it at `at`: it resolves to the nearest
/// binding (a hygienic one stays hygienic).
fn located(ctx: &Ident, at: Span) -> Ident {
    let mut ctx = ctx.clone();
    ctx.set_span(ctx.span().located_at(at));
    ctx
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
            RaceTarget::InScope(ctx) => located(ctx, span),
            RaceTarget::Clone(_) => clone_ident(),
        };
        // Each call carries the `.await`'s own span, which is where a
        // `#[track_caller]` location (a cancellation point of
        // `ctx::testing`) is reported; a mixed-site one would be reported
        // at the attribute.
        let private = |name: &str| self.private(name, span);
        let raced = if self.body_raced && !self.shadowed {
            // The whole-body race races the pending awaits: check, then poll.
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
            race_body(krate, &ctx, base.to_token_stream(), def)
        } else {
            let race = private("race");
            quote_spanned! {span=> #race(&#ctx, #base) }
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
    /// (`select!`, `join!`) are raced by the whole-body race.
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
    let mut finder = Moves { ctx, found: false };
    finder.visit_block(block);
    finder.found
}

/// Whether an expression is the name `ctx`.
fn is_ctx(expr: &Expr, ctx: &Ident) -> bool {
    matches!(expr, Expr::Path(path) if path.path.is_ident(ctx))
}

/// Whether the fn's own body assigns the name `ctx` (`ctx = child;`):
/// outside closures, async blocks and items, which are other futures and
/// fns, and inside macro calls by their tokens (`ctx =`).
pub(crate) fn assigns_context(block: &Block, ctx: &Ident) -> bool {
    struct Assigns<'a> {
        ctx: &'a Ident,
        found: bool,
    }
    impl<'ast> Visit<'ast> for Assigns<'_> {
        fn visit_expr(&mut self, expr: &'ast Expr) {
            match expr {
                Expr::Closure(_) | Expr::Async(_) => {}
                Expr::Assign(assign) if is_ctx(&assign.left, self.ctx) => self.found = true,
                _ => visit::visit_expr(self, expr),
            }
        }
        fn visit_macro(&mut self, mac: &'ast Macro) {
            self.found |= assigns_in_tokens(&mac.tokens, self.ctx);
        }
        fn visit_item(&mut self, _: &'ast Item) {}
    }
    let mut finder = Assigns { ctx, found: false };
    finder.visit_block(block);
    finder.found
}

/// Whether `tokens` hold `ctx =` (not `ctx ==`), at any depth.
fn assigns_in_tokens(tokens: &TokenStream, ctx: &Ident) -> bool {
    let tokens: Vec<TokenTree> = tokens.clone().into_iter().collect();
    tokens.iter().enumerate().any(|(index, token)| match token {
        TokenTree::Ident(ident) if ident == ctx => matches!(
            (tokens.get(index + 1), tokens.get(index + 2)),
            (Some(TokenTree::Punct(eq)), next)
                if eq.as_char() == '=' && eq.spacing() == proc_macro2::Spacing::Alone
                    && !matches!(next, Some(TokenTree::Punct(p)) if p.as_char() == '=')
        ),
        TokenTree::Group(group) => assigns_in_tokens(&group.stream(), ctx),
        _ => false,
    })
}

/// Finds a `.await` the rewriter checks: outside closures, async blocks
/// and items, and in the arguments of a macro call that parse as
/// expressions.
struct CheckedAwait(bool);

impl<'ast> Visit<'ast> for CheckedAwait {
    fn visit_expr(&mut self, expr: &'ast Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) => {}
            Expr::Await(_) => self.0 = true,
            _ => visit::visit_expr(self, expr),
        }
    }
    fn visit_macro(&mut self, mac: &'ast Macro) {
        if !mentions(&mac.tokens, "await") {
            return;
        }
        let parser = Punctuated::<Expr, Token![,]>::parse_terminated;
        if let Ok(args) = parser.parse2(mac.tokens.clone()) {
            args.iter().for_each(|arg| self.visit_expr(arg));
        }
    }
    fn visit_item(&mut self, _: &'ast Item) {}
}

fn stmt_awaits(stmt: &Stmt) -> bool {
    let mut finder = CheckedAwait(false);
    finder.visit_stmt(stmt);
    finder.0
}

fn expr_awaits(expr: &Expr) -> bool {
    let mut finder = CheckedAwait(false);
    finder.visit_expr(expr);
    finder.0
}

/// Whether a pattern binds the name `ctx`.
fn binds(pat: &syn::Pat, ctx: &Ident) -> bool {
    binding(pat, ctx).is_some()
}

/// Where a pattern binds the name `ctx`, if it does: where a binding that
/// is not a context is reported.
fn binding(pat: &syn::Pat, ctx: &Ident) -> Option<Span> {
    struct Binding<'a> {
        ctx: &'a Ident,
        found: Option<Span>,
    }
    impl<'ast> Visit<'ast> for Binding<'_> {
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            if pat.ident == *self.ctx {
                self.found.get_or_insert(pat.ident.span());
            }
            visit::visit_pat_ident(self, pat);
        }
    }
    let mut finder = Binding { ctx, found: None };
    finder.visit_pat(pat);
    finder.found
}
