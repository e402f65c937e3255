//! Token-level helpers every generating module uses; imports nothing from
//! the crate.

use proc_macro2::{Span, TokenStream, TokenTree};

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

/// Whether `tokens` contain the identifier `name`, at any depth.
pub(crate) fn mentions(tokens: &TokenStream, name: &str) -> bool {
    tokens.clone().into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == name,
        TokenTree::Group(group) => mentions(&group.stream(), name),
        _ => false,
    })
}
