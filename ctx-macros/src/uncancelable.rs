//! `#[uncancelable]`: the statements it marks hold the body's shield
//! while they run, so the whole-body race lets them finish, and their
//! awaits are left plain. The shield's runtime (`Shield`, `hold`) has its
//! contract in `ctx::__private`'s `uncancelable` module.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, Block, Expr, Item, Stmt};

/// The attribute that exempts every `.await` of one statement.
const UNCANCELABLE: &str = "uncancelable";

/// The body's shield, `__shield`, which `#[uncancelable]` statements hold.
/// Never raised without them, where it costs one store.
pub(crate) fn shield(krate: &TokenStream) -> TokenStream {
    quote_spanned! {Span::mixed_site()=>
        let __shield_storage = #krate::__private::Shield::default();
        let __shield = &__shield_storage;
    }
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

/// Strips `#[uncancelable]` inside closures and async blocks, raising the
/// shield around each marked statement; their awaits are left alone.
pub(crate) struct Shielder;

impl VisitMut for Shielder {
    fn visit_block_mut(&mut self, block: &mut Block) {
        shield_statements(block, |_, stmt| {
            self.visit_stmt_mut(stmt);
            None
        });
    }

    fn visit_item_mut(&mut self, _: &mut Item) {}
}

/// Visits each statement of `block` with `visit` (given its index), which
/// may return a statement to put after it, except those marked
/// `#[uncancelable]`: their mark is removed, their awaits left plain, and
/// the fn's shield is raised while they run, so its whole-body race lets
/// them finish.
pub(crate) fn shield_statements(
    block: &mut Block,
    mut visit: impl FnMut(usize, &mut Stmt) -> Option<Stmt>,
) {
    let mut stmts = Vec::with_capacity(block.stmts.len());
    for (index, mut stmt) in block.stmts.drain(..).enumerate() {
        let marked = stmt_attrs_mut(&mut stmt).is_some_and(|attrs| {
            let before = attrs.len();
            attrs.retain(|attr| !is_uncancelable(attr));
            attrs.len() != before
        });
        if !marked {
            let after = visit(index, &mut stmt);
            stmts.push(stmt);
            stmts.extend(after);
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
