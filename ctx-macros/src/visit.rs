//! Walks over a `#[ctx_fn]` body: the `.await` rewriter and the misuse
//! checks.

use std::collections::HashSet;

use proc_macro2::{Ident, Span, TokenStream, TokenTree};
use quote::quote_spanned;
use syn::visit::{self, Visit};
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, Expr, ExprCall, Item, Pat, Stmt};

/// The attribute that exempts every `.await` of one statement.
const UNCANCELABLE: &str = "uncancelable";

/// Rewrites each `.await` of the fn's own body into a race against the
/// context. Like async-trait's rewriters, it never enters closures, async
/// blocks or items: their awaits belong to another future, which may run
/// after this fn has returned, so an early `return` there would be wrong.
pub(crate) struct AwaitRewriter<'a> {
    pub(crate) krate: &'a TokenStream,
    /// How many awaits were rewritten: with none, the fn needs no clone of
    /// its context.
    pub(crate) rewritten: usize,
}

impl VisitMut for AwaitRewriter<'_> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) => {}
            Expr::Await(await_expr) => {
                self.visit_expr_mut(&mut await_expr.base);
                let base = &await_expr.base;
                let krate = self.krate;
                let span = Span::mixed_site().located_at(await_expr.await_token.span);
                // Each `.await` only races and returns through `__bail`,
                // bound at fn entry: the return type is checked once, there.
                let raced = quote_spanned! {span=>
                    match #krate::__private::Context::run(&__ctx, #base).await {
                        ::core::result::Result::Ok(__output) => __output,
                        ::core::result::Result::Err(__err) => return __bail(__err),
                    }
                };
                *expr = Expr::Verbatim(raced);
                self.rewritten += 1;
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Some(attrs) = stmt_attrs_mut(stmt) {
            let before = attrs.len();
            attrs.retain(|attr| !attr.path().is_ident(UNCANCELABLE));
            if attrs.len() != before {
                return;
            }
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// The outer attributes of a statement, where `#[uncancelable]` may sit.
fn stmt_attrs_mut(stmt: &mut Stmt) -> Option<&mut Vec<Attribute>> {
    match stmt {
        Stmt::Local(local) => Some(&mut local.attrs),
        Stmt::Macro(mac) => Some(&mut mac.attrs),
        Stmt::Item(_) => None,
        Stmt::Expr(expr, _) => match expr {
            Expr::Await(e) => Some(&mut e.attrs),
            Expr::Assign(e) => Some(&mut e.attrs),
            Expr::Binary(e) => Some(&mut e.attrs),
            Expr::Block(e) => Some(&mut e.attrs),
            Expr::Call(e) => Some(&mut e.attrs),
            Expr::Field(e) => Some(&mut e.attrs),
            Expr::If(e) => Some(&mut e.attrs),
            Expr::Match(e) => Some(&mut e.attrs),
            Expr::MethodCall(e) => Some(&mut e.attrs),
            Expr::Paren(e) => Some(&mut e.attrs),
            Expr::Return(e) => Some(&mut e.attrs),
            Expr::Try(e) => Some(&mut e.attrs),
            Expr::ForLoop(e) => Some(&mut e.attrs),
            Expr::While(e) => Some(&mut e.attrs),
            Expr::Loop(e) => Some(&mut e.attrs),
            Expr::Unsafe(e) => Some(&mut e.attrs),
            Expr::Unary(e) => Some(&mut e.attrs),
            Expr::Cast(e) => Some(&mut e.attrs),
            Expr::Index(e) => Some(&mut e.attrs),
            Expr::Reference(e) => Some(&mut e.attrs),
            Expr::Tuple(e) => Some(&mut e.attrs),
            Expr::Array(e) => Some(&mut e.attrs),
            Expr::Struct(e) => Some(&mut e.attrs),
            _ => None,
        },
    }
}

/// Finds the misuses a `#[ctx_fn]` body must not contain. Unlike the
/// rewriter it enters closures and async blocks: a root context or a
/// fire-and-forget spawn is as wrong there as anywhere in the fn. Nested
/// items are other fns, with their own contexts.
pub(crate) struct MisuseFinder {
    /// The context parameter and the locals derived from it: what a
    /// spawned task must not capture.
    tainted: HashSet<String>,
    ctx_name: String,
    pub(crate) errors: Vec<syn::Error>,
}

impl MisuseFinder {
    pub(crate) fn new(ctx: &Ident) -> Self {
        let ctx_name = ctx.to_string();
        MisuseFinder {
            tainted: HashSet::from([ctx_name.clone()]),
            ctx_name,
            errors: Vec::new(),
        }
    }

    /// Reports a spawned task whose handle is thrown away while it
    /// captures the context.
    fn check_discarded(&mut self, expr: &Expr) {
        let Expr::Call(call) = expr else { return };
        let Some(spawner) = spawn_path(call) else {
            return;
        };
        let Some(captured) = call.args.iter().find_map(|arg| self.mention(arg)) else {
            return;
        };
        let via = if captured == self.ctx_name {
            String::new()
        } else {
            format!(" (through `{captured}`)")
        };
        let ctx = &self.ctx_name;
        self.errors.push(syn::Error::new_spanned(
            &call.func,
            format!(
                "fire-and-forget `{spawner}` captures the context `{ctx}`{via}: make the work a `#[detached]` fn, or pass it `{ctx}.without_cancel()`\n\
                 `{ctx}` is canceled when this call returns, so the spawned work fails or is cut short at random; \
                 `#[detached]` keeps the context's values but not its cancellation, and tracks the work for shutdown"
            ),
        ));
    }

    /// Whether `expr` is the context or a context derived from it that
    /// shares its cancellation (`ctx.clone()`, `ctx.with_timeout(..)`);
    /// `ctx.without_cancel()` does not, and `ctx.err()` is no context.
    fn derives_context(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Path(path) => path
                .path
                .get_ident()
                .is_some_and(|ident| self.tainted.contains(&ident.to_string())),
            Expr::Reference(reference) => self.derives_context(&reference.expr),
            Expr::Paren(paren) => self.derives_context(&paren.expr),
            Expr::MethodCall(call) => {
                let method = call.method.to_string();
                (method == "clone" || method.starts_with("with_"))
                    && self.derives_context(&call.receiver)
            }
            _ => false,
        }
    }

    /// The first tainted local `expr` uses, except through
    /// `.without_cancel()`, which is the fix.
    fn mention(&self, expr: &Expr) -> Option<String> {
        let mut finder = Mention {
            tainted: &self.tainted,
            found: None,
        };
        finder.visit_expr(expr);
        finder.found
    }
}

impl<'ast> Visit<'ast> for MisuseFinder {
    fn visit_expr_call(&mut self, call: &'ast ExprCall) {
        if let [.., ty, root] = callee_segments(call).as_slice() {
            if ty == "Context" && (root == "background" || root == "todo") {
                let ctx = &self.ctx_name;
                self.errors.push(syn::Error::new_spanned(
                    call,
                    format!(
                        "use the context parameter `{ctx}` (or `{ctx}.without_cancel()`) instead of `Context::{root}()` inside `#[ctx_fn]`\n\
                         a new root context drops the caller's cancellation, deadline and values (Go's contextcheck)"
                    ),
                ));
            }
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_stmt(&mut self, stmt: &'ast Stmt) {
        match stmt {
            Stmt::Expr(expr, Some(_)) => self.check_discarded(expr),
            Stmt::Local(local) => {
                if let Some(init) = &local.init {
                    if matches!(local.pat, Pat::Wild(_)) {
                        self.check_discarded(&init.expr);
                    } else if self.derives_context(&init.expr) {
                        // Of `let (child, cancel) = ctx.with_cancel()`, the
                        // child is the context.
                        let pat = match &local.pat {
                            Pat::Tuple(tuple) => tuple.elems.first(),
                            pat => Some(pat),
                        };
                        let mut bound = Vec::new();
                        if let Some(pat) = pat {
                            bindings(pat, &mut bound);
                        }
                        self.tainted.extend(bound);
                    }
                }
            }
            _ => {}
        }
        visit::visit_stmt(self, stmt);
    }

    fn visit_item(&mut self, _: &'ast Item) {}
}

/// The spawner a call goes through, when it starts work that outlives the
/// call: `tokio::spawn`, `tokio::task::spawn_blocking`,
/// `std::thread::spawn` and their imported short forms.
fn spawn_path(call: &ExprCall) -> Option<String> {
    let segments = callee_segments(call);
    let (last, parents) = segments.split_last()?;
    let spawns = matches!(last.as_str(), "spawn" | "spawn_blocking" | "spawn_local");
    let from_spawner = parents
        .last()
        .is_none_or(|parent| matches!(parent.as_str(), "tokio" | "task" | "thread"));
    (spawns && from_spawner).then(|| segments.join("::"))
}

/// The segments of the path a call calls (`["tokio", "spawn"]`), none when
/// the callee is not a path.
fn callee_segments(call: &ExprCall) -> Vec<String> {
    match &*call.func {
        Expr::Path(path) => path
            .path
            .segments
            .iter()
            .map(|segment| segment.ident.to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// Collects the names a pattern binds.
fn bindings(pat: &Pat, out: &mut Vec<String>) {
    struct Bindings<'a>(&'a mut Vec<String>);
    impl<'ast> Visit<'ast> for Bindings<'_> {
        fn visit_pat_ident(&mut self, pat: &'ast syn::PatIdent) {
            self.0.push(pat.ident.to_string());
            visit::visit_pat_ident(self, pat);
        }
    }
    Bindings(out).visit_pat(pat);
}

struct Mention<'a> {
    tainted: &'a HashSet<String>,
    found: Option<String>,
}

impl<'ast> Visit<'ast> for Mention<'_> {
    fn visit_expr_method_call(&mut self, call: &'ast syn::ExprMethodCall) {
        if call.method == "without_cancel" {
            for arg in &call.args {
                self.visit_expr(arg);
            }
            return;
        }
        visit::visit_expr_method_call(self, call);
    }

    fn visit_expr_path(&mut self, path: &'ast syn::ExprPath) {
        if let Some(ident) = path.path.get_ident() {
            self.note(ident);
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        // Macro arguments are opaque tokens: any tainted name among them
        // counts (a name inside a format string, `"{ctx}"`, is not seen).
        self.scan(mac.tokens.clone());
    }

    fn visit_item(&mut self, _: &'ast Item) {}
}

impl Mention<'_> {
    fn note(&mut self, ident: &Ident) {
        if self.found.is_none() && self.tainted.contains(&ident.to_string()) {
            self.found = Some(ident.to_string());
        }
    }

    fn scan(&mut self, tokens: TokenStream) {
        for token in tokens {
            match token {
                TokenTree::Ident(ident) => self.note(&ident),
                TokenTree::Group(group) => self.scan(group.stream()),
                _ => {}
            }
        }
    }
}
