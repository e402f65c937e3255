//! Request-scoped values, keyed by type.
//!
//! Go's `Value` walks the parent chain comparing keys, so a miss at depth
//! 100 costs 100 steps. Here every value context holds one immutable table
//! of all the values in effect, sorted by `TypeId`, and every other context
//! points at its nearest value context: a lookup is a binary search at any
//! depth. `with_value` copies the parent's table (one reference count per
//! entry, in one exact-size allocation), which is cheap for the handful of
//! values a request carries.

use std::any::{Any, TypeId};
use std::iter;

use crate::node::CancelNode;
use crate::sync::Arc;
use crate::Context;

type Entry = (TypeId, Arc<dyn Any + Send + Sync>);

/// A context that carries one more value than its parent.
pub(crate) struct ValueNode {
    pub(crate) parent: Context<'static>,
    /// The parent's scope, cached so `err()` is O(1) under any number of
    /// value layers.
    pub(crate) scope: Option<Arc<CancelNode>>,
    /// The type of the value this node added, for `Display`.
    pub(crate) type_name: &'static str,
    /// Every value in effect here, sorted by type.
    entries: Box<[Entry]>,
}

impl ValueNode {
    /// `parent`'s values plus `value`, which shadows a value of the same
    /// type, as a nearer `WithValue` does in Go.
    pub(crate) fn new<T: Send + Sync + 'static>(parent: &Context<'_>, value: T) -> Self {
        let key = TypeId::of::<T>();
        let value: Arc<dyn Any + Send + Sync> = Arc::new(value);
        let inherited: &[Entry] = parent.values().map_or(&[], |values| &values.entries);
        let (at, shadowed) = match inherited.binary_search_by_key(&key, |(id, _)| *id) {
            Ok(at) => (at, 1),
            Err(at) => (at, 0),
        };
        let entries = inherited[..at]
            .iter()
            .cloned()
            .chain(iter::once((key, value)))
            .chain(inherited[at + shadowed..].iter().cloned())
            .collect();
        ValueNode {
            parent: parent.erase(),
            scope: parent.scope().cloned(),
            type_name: std::any::type_name::<T>(),
            entries,
        }
    }

    pub(crate) fn get<T: 'static>(&self) -> Option<&T> {
        let key = TypeId::of::<T>();
        let at = self
            .entries
            .binary_search_by_key(&key, |(id, _)| *id)
            .ok()?;
        self.entries[at].1.downcast_ref()
    }
}
