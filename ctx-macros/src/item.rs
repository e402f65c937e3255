//! The annotated fn as an item: parsed (or reported at its keyword when it
//! is not a fn), split into its parts, and emitted as written beside the
//! errors that stopped a macro, so each error comes alone.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{AttrStyle, Attribute, FnArg, ItemFn, ReturnType, Signature, Visibility};

use crate::signature::{is_context, name_scope};
use crate::uncancelable::strip_uncancelable;

/// Parses the annotated item as a fn with a body; anything else is an
/// error at the item's keyword.
pub(crate) fn parse_fn(item: TokenStream, macro_name: &str) -> syn::Result<ItemFn> {
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

/// Splits a fn's attributes into the body's inner ones (`#![allow(..)]`,
/// which syn lifts out of the block) and the fn's outer ones.
pub(crate) fn split_inner(attrs: Vec<Attribute>) -> (Vec<Attribute>, Vec<Attribute>) {
    attrs
        .into_iter()
        .partition(|attr| matches!(attr.style, AttrStyle::Inner(_)))
}

/// Where an error about the fn's return type goes: the type, or the fn's
/// name when there is none.
pub(crate) fn return_span(sig: &Signature) -> Span {
    match &sig.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => sig.ident.span(),
    }
}

/// The fn's return type, `()` when it has none.
pub(crate) fn return_type(sig: &Signature) -> TokenStream {
    match &sig.output {
        ReturnType::Type(_, ty) => ty.to_token_stream(),
        ReturnType::Default => quote_spanned!(sig.ident.span()=> ()),
    }
}

/// The fn as written, emitted beside the errors that stopped the macro, so
/// each error comes alone: its context parameters get an explicit scope
/// (`Context<'_>`), which an `async fn` requires (E0726), their paths
/// staying as written so the user's imports stay used; and its parameters
/// may go unused, the body that would use the context never expanded; and
/// its `#[uncancelable]` marks go, which only the expansion understands.
pub(crate) fn as_written(mut func: ItemFn, krate: &TokenStream) -> TokenStream {
    func.attrs
        .push(syn::parse_quote!(#[allow(unused_variables)]));
    strip_uncancelable(&mut func.block);
    for arg in &mut func.sig.inputs {
        if let FnArg::Typed(typed) = arg {
            if is_context(&typed.ty, krate) {
                name_scope(&mut typed.ty, None, "_");
            }
        }
    }
    func.into_token_stream()
}

/// The errors, then the expansion, or the item as written when the macro
/// could not expand it: the item is still defined, so one mistake gives
/// one error and not a cascade at every use.
pub(crate) fn with_errors(item: TokenStream, errors: Vec<syn::Error>) -> TokenStream {
    let errors = errors.iter().map(syn::Error::to_compile_error);
    quote! {
        #(#errors)*
        #item
    }
}

/// A fn a macro expanded, with the errors found in its body (which do not
/// stop the expansion).
pub(crate) struct ExpandedFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The body, braces included.
    pub(crate) body: TokenStream,
    pub(crate) errors: Vec<syn::Error>,
}

impl ExpandedFn {
    /// The errors, then the fn.
    pub(crate) fn emit(self) -> TokenStream {
        let ExpandedFn {
            attrs,
            vis,
            sig,
            body,
            errors,
        } = self;
        with_errors(
            quote! {
                #(#attrs)*
                #vis #sig #body
            },
            errors,
        )
    }
}
