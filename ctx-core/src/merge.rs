//! Merged contexts: done when either of two contexts is.
//!
//! A merge costs no task. Its node is an ordinary child of the first
//! context, and is registered with the second context's nearest cancelable
//! node by one entry that cancels it, removed again when the merge ends
//! however it ends; the protocol is the tree's (invariant 8 of `node/mod.rs`).

use crate::node::{CancelNode, Entry};
use crate::sync::Arc;
use crate::Context;

/// What a merged context points at: its node, and the second context.
pub(crate) struct MergeNode {
    /// The merged context's node: a child of the first context, so it has
    /// its values and its deadline, or the second's if that is earlier.
    pub(crate) node: Arc<CancelNode>,
    /// The second context: its link of the `Display` chain, and what keeps
    /// it alive as long as the merge is.
    pub(crate) second: Context<'static>,
}

impl MergeNode {
    /// A context done when `first` or `second` is, with the earlier
    /// deadline; done at once if either already is (with `first`'s error
    /// and cause if both are).
    pub(crate) fn new(first: &Context<'_>, second: &Context<'_>) -> MergeNode {
        // No timer of its own: the second context's deadline is armed in
        // its own tree, and cancels the merge through the entry below, with
        // its cause.
        let earlier = second
            .deadline()
            .filter(|&theirs| first.deadline().is_none_or(|ours| theirs < ours));
        // A check that finds the deadline passed before the second
        // context's timer ends the merge with that deadline's cause.
        let cause = earlier
            .and(second.cancel_node())
            .and_then(|node| node.effective_deadline_cause());
        let node = CancelNode::new(first, earlier, cause);
        if let Some(second_node) = second.cancel_node() {
            observe(&node, second_node);
        }
        MergeNode {
            node,
            second: second.erase(),
        }
    }
}

/// Registers `node` with `second_parent`, whose cancellation then cancels
/// it, or cancels it at once if `second_parent` is done.
fn observe(node: &Arc<CancelNode>, second_parent: &Arc<CancelNode>) {
    match second_parent.register(Entry::Merged(Arc::downgrade(node))) {
        Ok(slot) => {
            // Recorded in the node, so that its end removes the entry. A
            // node done meanwhile (its first parent was canceled) refuses
            // the record: nothing will remove the entry but this.
            let record = Entry::MergedInto(second_parent.clone(), slot);
            if node.register(record).is_err() {
                second_parent.deregister(slot);
            }
        }
        Err(refused) => node.cancel(refused.err, refused.cause),
    }
}
