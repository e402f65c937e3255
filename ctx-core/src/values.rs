//! Request-scoped values, keyed by type.
//!
//! Go's `Value` walks the parent chain comparing keys, so a miss at depth
//! 100 costs 100 steps. Here every context points at one immutable table of
//! all the values in effect, sorted by `TypeId`: a lookup is a binary search
//! at any depth, and contexts that add no value share their parent's table.
//! `with_value` copies the parent's table (one reference count per entry),
//! which is cheap for the handful of values a request carries.

use std::any::{Any, TypeId};

use crate::node::CancelNode;
use crate::sync::Arc;
use crate::Context;

type Entry = (TypeId, Arc<dyn Any + Send + Sync>);

/// The values in effect at a context, sorted by type.
pub(crate) struct ValueTable {
    entries: Box<[Entry]>,
}

impl ValueTable {
    /// The table of `parent` plus `value`, which shadows a value of the same
    /// type, as a nearer `WithValue` does in Go.
    pub(crate) fn with<T: Send + Sync + 'static>(parent: Option<&ValueTable>, value: T) -> Self {
        let key = TypeId::of::<T>();
        let value: Arc<dyn Any + Send + Sync> = Arc::new(value);
        let mut entries: Vec<Entry> = parent.map_or_else(Vec::new, |table| table.entries.to_vec());
        match entries.binary_search_by_key(&key, |(id, _)| *id) {
            Ok(at) => entries[at].1 = value,
            Err(at) => entries.insert(at, (key, value)),
        }
        ValueTable {
            entries: entries.into_boxed_slice(),
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

/// A context that carries one more value than its parent.
pub(crate) struct ValueNode {
    pub(crate) parent: Context,
    pub(crate) values: Arc<ValueTable>,
    /// The parent's scope, cached so `err()` is O(1) under any number of
    /// value layers.
    pub(crate) scope: Option<Arc<CancelNode>>,
    /// The type of the value this node added, for `Display`.
    pub(crate) type_name: &'static str,
}
