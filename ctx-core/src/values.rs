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
use std::{fmt, iter};

use crate::node::CancelNode;
use crate::sync::Arc;
use crate::Context;

type Entry = (TypeId, Arc<dyn Any + Send + Sync>);

/// A context that carries one more value than its parent.
pub(crate) struct ValueNode {
    pub(crate) parent: Context<'static>,
    /// The parent's nearest cancelable node, cached so `err()` is O(1)
    /// under any number of value layers.
    pub(crate) cancel_node: Option<Arc<CancelNode>>,
    /// The type of the value this node added, for `Display`.
    pub(crate) type_name: ShortTypeName,
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
            cancel_node: parent.cancel_node().cloned(),
            type_name: ShortTypeName(std::any::type_name::<T>()),
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

/// A type's name without its module paths: `Vec<TraceId>` for
/// `alloc::vec::Vec<my_app::http::ids::TraceId>`. A type's path is where it
/// is defined, often a private module, not where its users name it; Go
/// prints a key's type by its short name too (`main.traceKey`).
///
/// Hand-written rather than a dependency of every user for one `Display`.
#[derive(Clone, Copy)]
pub(crate) struct ShortTypeName(pub(crate) &'static str);

impl fmt::Display for ShortTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while !rest.is_empty() {
            // A path runs to the next character that cannot be part of one
            // (`<`, `,`, ` `, `&`, ...): only its last segment is written.
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let (path, tail) = rest.split_at(end);
            f.write_str(path.rsplit("::").next().unwrap_or(path))?;
            let delimiter_len = tail.chars().next().map_or(0, char::len_utf8);
            let (delimiter, next) = tail.split_at(delimiter_len);
            f.write_str(delimiter)?;
            rest = next;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ShortTypeName;

    #[test]
    fn short_type_names_drop_every_module_path() {
        for (full, short) in [
            ("u64", "u64"),
            ("my_app::http::ids::TraceId", "TraceId"),
            ("alloc::vec::Vec<alloc::string::String>", "Vec<String>"),
            (
                "core::option::Option<(u8, &'static str, [a::B; 4])>",
                "Option<(u8, &'static str, [B; 4])>",
            ),
            (
                "alloc::boxed::Box<dyn core::any::Any + core::marker::Send>",
                "Box<dyn Any + Send>",
            ),
            ("app::main::{{closure}}", "{{closure}}"),
            ("résumé::Café", "Café"),
        ] {
            assert_eq!(ShortTypeName(full).to_string(), short, "{full}");
        }
    }
}
