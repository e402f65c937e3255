//! Finds new root contexts in a `#[ctx_fn]` body: Go's contextcheck.

use proc_macro2::Ident;
use syn::visit::{self, Visit};
use syn::{Expr, ExprCall, Item};

/// Reports `Context::background()` and `Context::todo()`. Unlike the await
/// rewriter it enters closures and async blocks: a new root is as wrong
/// there as anywhere in the fn. Nested items are other fns, with their own
/// contexts.
pub(crate) struct RootFinder<'a> {
    pub(crate) ctx: &'a Ident,
    pub(crate) errors: Vec<syn::Error>,
}

impl<'ast> Visit<'ast> for RootFinder<'_> {
    fn visit_expr_call(&mut self, call: &'ast ExprCall) {
        if let Expr::Path(path) = &*call.func {
            let segments: Vec<String> = path
                .path
                .segments
                .iter()
                .map(|segment| segment.ident.to_string())
                .collect();
            if let [.., ty, root] = segments.as_slice() {
                if ty == "Context" && (root == "background" || root == "todo") {
                    let ctx = self.ctx;
                    self.errors.push(syn::Error::new_spanned(
                        call,
                        format!(
                            "use the context parameter `{ctx}` (or `{ctx}.without_cancel()`) instead of `Context::{root}()` inside `#[ctx_fn]`\n\
                             a new root context drops the caller's cancellation, deadline and values (Go's contextcheck)"
                        ),
                    ));
                }
            }
        }
        visit::visit_expr_call(self, call);
    }

    fn visit_item(&mut self, _: &'ast Item) {}
}
