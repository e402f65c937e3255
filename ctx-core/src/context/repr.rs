//! What a context is underneath: one of six kinds of node, and the few
//! questions the rest of the crate asks of any of them (its nearest
//! cancelable node, its parent, its values, its link of the `Display`
//! chain, how its chain is dropped). Each question is answered here once,
//! by one match: a new kind of context is a new variant of [`Repr`] and an
//! arm in each match below.

use std::fmt;
use std::marker::PhantomData;
use std::mem;

use crate::deadline;
use crate::merge::MergeNode;
use crate::node::CancelNode;
use crate::sync::Arc;
use crate::values::ValueNode;

use super::Context;

/// The node a context points at.
#[derive(Clone)]
pub(super) enum Repr {
    Background,
    Todo,
    Cancel(Arc<CancelNode>),
    Merge(Arc<MergeNode>),
    Value(ValueNode),
    WithoutCancel(Arc<WithoutCancelNode>),
}

/// A context that keeps its parent's values and nothing of its cancellation.
pub(super) struct WithoutCancelNode {
    pub(super) parent: Context<'static>,
}

impl Repr {
    /// The nearest cancelable node on the path to the root, whose
    /// cancellation a context of this kind observes.
    #[inline]
    fn cancel_node(&self) -> Option<&Arc<CancelNode>> {
        match self {
            Repr::Cancel(node) => Some(node),
            Repr::Merge(merge) => Some(&merge.node),
            Repr::Value(node) => node.cancel_node.as_ref(),
            Repr::Background | Repr::Todo | Repr::WithoutCancel(_) => None,
        }
    }

    /// The context this one was derived from; `None` for a root.
    fn parent(&self) -> Option<&Context<'static>> {
        match self {
            Repr::Background | Repr::Todo => None,
            Repr::Cancel(node) => Some(&node.parent),
            Repr::Merge(merge) => Some(&merge.node.parent),
            Repr::Value(node) => Some(&node.parent),
            Repr::WithoutCancel(node) => Some(&node.parent),
        }
    }

    /// Writes this context's own link of the `Display` chain. A merge's
    /// link opens a parenthesis and hands back the second chain, to be
    /// printed next, then closed.
    fn fmt_link(
        &self,
        f: &mut fmt::Formatter<'_>,
    ) -> Result<Option<&Context<'static>>, fmt::Error> {
        let link = match self {
            Repr::Background => f.write_str("context.Background"),
            Repr::Todo => f.write_str("context.TODO"),
            Repr::Cancel(node) => match node.own_deadline() {
                Some(at) => {
                    let left = deadline::remaining_until(at);
                    write!(f, ".WithDeadline([{left:?}])")
                }
                None => f.write_str(".WithCancel"),
            },
            Repr::Merge(merge) => {
                f.write_str(".Merge(")?;
                return Ok(Some(&merge.second));
            }
            Repr::Value(node) => {
                write!(f, ".WithValue({})", node.added.first)?;
                match node.added.second {
                    Some(second) => write!(f, ".WithValue({second})"),
                    None => Ok(()),
                }
            }
            Repr::WithoutCancel(_) => f.write_str(".WithoutCancel"),
        };
        link.map(|()| None)
    }

    /// Dismantles the node this points at if this was its last owner, and
    /// hands back its parent for the caller to drop next (a merge's second
    /// context goes to `seconds`).
    fn into_parent(self, seconds: &mut Option<Vec<Context<'static>>>) -> Option<Context<'static>> {
        match self {
            Repr::Background | Repr::Todo => None,
            Repr::Cancel(node) => Arc::into_inner(node).map(CancelNode::into_parent),
            Repr::Merge(merge) => {
                let MergeNode { node, second } = Arc::into_inner(merge)?;
                seconds.get_or_insert_with(Vec::new).push(second);
                Arc::into_inner(node).map(CancelNode::into_parent)
            }
            Repr::Value(node) => node.into_parent(),
            Repr::WithoutCancel(node) => Arc::into_inner(node).map(|node| node.parent),
        }
    }

    /// Whether this owns no node: a root's, or one already taken.
    #[inline]
    fn owns_nothing(&self) -> bool {
        matches!(self, Repr::Background | Repr::Todo)
    }
}

impl<'a> Context<'a> {
    pub(super) const fn from_repr(repr: Repr) -> Context<'a> {
        Context {
            repr,
            scope: PhantomData,
        }
    }

    pub(super) fn from_node(node: &Arc<CancelNode>) -> Context<'a> {
        Context::from_repr(Repr::Cancel(node.clone()))
    }

    /// A clone of this context that the type system no longer ties to its
    /// scope: what the tree's own links hold. Never handed to users, except
    /// through the doors that make it sound ([`without_cancel`], which drops
    /// the cancellation; [`spawn`], whose child is canceled with this one).
    ///
    /// [`without_cancel`]: Context::without_cancel
    /// [`spawn`]: Context::spawn
    pub(crate) fn erase(&self) -> Context<'static> {
        Context::from_repr(self.repr.clone())
    }

    /// The nearest cancelable node on the path to the root, whose
    /// cancellation this context observes: its own, for a context made
    /// cancelable; `None` for one that can never be done.
    #[inline]
    pub(crate) fn cancel_node(&self) -> Option<&Arc<CancelNode>> {
        self.repr.cancel_node()
    }

    /// The context this one was derived from; `None` for a root.
    pub(super) fn parent(&self) -> Option<&Context<'static>> {
        self.repr.parent()
    }

    /// Writes this context's own link of the `Display` chain; see
    /// [`Repr::fmt_link`].
    pub(super) fn fmt_link(
        &self,
        f: &mut fmt::Formatter<'_>,
    ) -> Result<Option<&Context<'static>>, fmt::Error> {
        self.repr.fmt_link(f)
    }

    /// The nearest value context on the path to the root, whose table
    /// holds every value in effect here.
    ///
    /// Found by walking up through the cancelable contexts in between, not
    /// cached in each: a cached reference would be one more shared
    /// reference count that every child of a request's context writes
    /// twice (at birth and at drop), from every thread serving the
    /// request, and 8 bytes of every node. A request's tree has few
    /// cancelable contexts between its values, and Go's lookup walks every
    /// context.
    pub(crate) fn values(&self) -> Option<&ValueNode> {
        let mut ctx = self;
        loop {
            if let Repr::Value(node) = &ctx.repr {
                return Some(node);
            }
            ctx = ctx.parent()?;
        }
    }
}

/// Dropping the last handle on a deep chain frees it link by link, rather
/// than recursively through each node's parent, so no depth overflows the
/// stack. A merge's second chain waits its turn on a list, so neither do
/// merges nested to any depth.
impl Drop for Context<'_> {
    // Inline, so dropping a root, or a node's parent already taken by
    // `into_parent`, is a comparison where it happens rather than a call
    // that saves the registers `dismantle`'s loop needs.
    #[inline]
    fn drop(&mut self) {
        if !self.repr.owns_nothing() {
            dismantle(mem::replace(&mut self.repr, Repr::Background));
        }
    }
}

/// Drops the chain of nodes `repr` owns, iteratively: a chain of any depth
/// is dropped without deepening the stack.
fn dismantle(mut repr: Repr) {
    // Allocated only by a merge, as most chains have none.
    let mut seconds = None;
    loop {
        let next = repr
            .into_parent(&mut seconds)
            .or_else(|| seconds.as_mut().and_then(Vec::pop));
        let Some(mut next) = next else {
            return;
        };
        repr = mem::replace(&mut next.repr, Repr::Background);
    }
}
