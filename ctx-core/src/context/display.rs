//! How a context prints: its derivation chain in Go's notation.

use std::fmt;

use super::Context;

/// The derivation chain, in Go's notation:
/// `context.Background.WithCancel.WithValue(TraceId)` (a value shown by its
/// type's name, without module paths), a merge's second context in
/// parentheses: `.Merge(context.Background.WithCancel)`.
///
/// ```
/// use ctx::Context;
///
/// let (ctx, _cancel) = Context::background().with_cancel();
/// let ctx = ctx.with_value(42_u64).without_cancel();
/// assert_eq!(
///     ctx.to_string(),
///     "context.Background.WithCancel.WithValue(u64).WithoutCancel"
/// );
/// ```
impl fmt::Display for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Iterative, so a chain of any depth, or merges nested to any
        // depth, print without recursion. Covariance lets the `'static`
        // links stand beside `self`.
        enum Piece<'c> {
            /// A whole chain, from its root to this context.
            Chain(&'c Context<'c>),
            /// One context's own link.
            Link(&'c Context<'c>),
            /// The end of a merge's second chain.
            Close,
        }
        let mut pieces = vec![Piece::Chain(self)];
        while let Some(piece) = pieces.pop() {
            match piece {
                // Pushed from this context up, so the root comes out first.
                Piece::Chain(ctx) => {
                    let mut link = Some(ctx);
                    while let Some(ctx) = link {
                        pieces.push(Piece::Link(ctx));
                        link = ctx.parent();
                    }
                }
                Piece::Link(ctx) => {
                    if let Some(second) = ctx.fmt_link(f)? {
                        pieces.push(Piece::Close);
                        pieces.push(Piece::Chain(second));
                    }
                }
                Piece::Close => f.write_str(")")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("chain", &format_args!("{self}"))
            .field("err", &self.err())
            .finish()
    }
}
