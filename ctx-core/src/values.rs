//! Request-scoped values, keyed by type.
//!
//! Go's `Value` walks the parent chain comparing keys, so a miss at depth
//! 100 costs 100 steps. Here every value context holds one immutable table
//! of all the values in effect, sorted by `TypeId`, and every other context
//! points at its nearest value context: a lookup is a binary search at any
//! depth. `with_value` copies the parent's table (one reference count per
//! entry) into the new node's own allocation, which is cheap for the
//! handful of values a request carries: a value context is two
//! allocations, the node with its table and the value.

use std::any::{Any, TypeId};
use std::fmt;
use std::mem;
use std::ops::Deref;

use smallvec::SmallVec;
use triomphe::ThinArc;

use crate::node::CancelNode;
use crate::sync::Arc;
use crate::Context;

/// A value's type, and the values its node added, which hold it.
type Entry = (TypeId, Arc<dyn Added>);

/// A context that carries one or two more values than its parent: what
/// every value context has ([`ValueHeader`]), then its table, in one
/// allocation behind a thin pointer, so a context stays two words.
#[derive(Clone)]
pub(crate) struct ValueNode(ThinArc<ValueHeader, Entry>);

/// What every value context has besides its table.
pub(crate) struct ValueHeader {
    pub(crate) parent: Context<'static>,
    /// The parent's nearest cancelable node, cached so `err()` is O(1)
    /// under any number of value layers.
    pub(crate) cancel_node: Option<Arc<CancelNode>>,
    /// The types of the values this node added, in the order they were
    /// given, for `Display`.
    pub(crate) added: AddedTypes,
}

/// The values one node added, in one allocation that each of their
/// entries shares: a node that adds two values allocates once for both.
trait Added: Send + Sync {
    /// The value of the type `key`, which is one of the added values'
    /// types.
    fn value(&self, key: TypeId) -> &dyn Any;
}

/// One value, added by `with_value`.
struct One<T>(T);

impl<T: Send + Sync + 'static> Added for One<T> {
    fn value(&self, _key: TypeId) -> &dyn Any {
        &self.0
    }
}

/// Two values of different types, added in one node.
struct Two<A, B>(A, B);

impl<A, B> Added for Two<A, B>
where
    A: Send + Sync + 'static,
    B: Send + Sync + 'static,
{
    fn value(&self, key: TypeId) -> &dyn Any {
        if key == TypeId::of::<A>() {
            &self.0
        } else {
            &self.1
        }
    }
}

/// The types a value node added: one (`with_value`), or two in one node
/// (the HTTP layer's ids, which every request carries).
#[derive(Clone, Copy)]
pub(crate) struct AddedTypes {
    pub(crate) first: ShortTypeName,
    pub(crate) second: Option<ShortTypeName>,
}

impl Deref for ValueNode {
    type Target = ValueHeader;

    fn deref(&self) -> &ValueHeader {
        &self.0.header.header
    }
}

impl ValueNode {
    /// `parent`'s values plus `value`, which shadows a value of the same
    /// type, as a nearer `WithValue` does in Go.
    pub(crate) fn new<T: Send + Sync + 'static>(parent: &Context<'_>, value: T) -> Self {
        let added = AddedTypes {
            first: ShortTypeName::of::<T>(),
            second: None,
        };
        ValueNode::with_entries(parent, [(TypeId::of::<T>(), Arc::new(One(value)))], added)
    }

    /// `parent`'s values plus `first` and `second`, in one node: what
    /// `with_value(first).with_value(second)` carries, in half the
    /// allocations (one node with its table, and both values in one).
    pub(crate) fn pair<A, B>(parent: &Context<'_>, first: A, second: B) -> Self
    where
        A: Send + Sync + 'static,
        B: Send + Sync + 'static,
    {
        let added = AddedTypes {
            first: ShortTypeName::of::<A>(),
            second: Some(ShortTypeName::of::<B>()),
        };
        if TypeId::of::<A>() == TypeId::of::<B>() {
            // The second shadows the first, as the nearer one would.
            let second: Arc<dyn Added> = Arc::new(One(second));
            return ValueNode::with_entries(parent, [(TypeId::of::<B>(), second)], added);
        }
        let both: Arc<dyn Added> = Arc::new(Two(first, second));
        let mut added_entries = [
            (TypeId::of::<A>(), Arc::clone(&both)),
            (TypeId::of::<B>(), both),
        ];
        added_entries.sort_unstable_by_key(|(id, _)| *id);
        ValueNode::with_entries(parent, added_entries, added)
    }

    /// `parent`'s table merged with `added` (sorted by type, no type
    /// twice), whose entries shadow the parent's of the same type.
    fn with_entries<const N: usize>(
        parent: &Context<'_>,
        added: [Entry; N],
        types: AddedTypes,
    ) -> Self {
        let inherited: &[Entry] = parent.values().map_or(&[], ValueNode::entries);
        // On the stack for the handful of values a request carries: the
        // node's allocation is then the only one.
        let mut entries: SmallVec<[Entry; 8]> = SmallVec::new();
        let mut inherited = inherited.iter().peekable();
        for (key, value) in added {
            while let Some((id, _)) = inherited.peek() {
                if *id > key {
                    break;
                }
                let kept = inherited.next().filter(|(id, _)| *id != key);
                entries.extend(kept.cloned());
            }
            entries.push((key, value));
        }
        entries.extend(inherited.cloned());
        let header = ValueHeader {
            parent: parent.erase(),
            cancel_node: parent.cancel_node().cloned(),
            added: types,
        };
        ValueNode(ThinArc::from_header_and_iter(header, entries.into_iter()))
    }

    /// Every value in effect here, sorted by type.
    fn entries(&self) -> &[Entry] {
        &self.0.slice
    }

    pub(crate) fn get<T: 'static>(&self) -> Option<&T> {
        let key = TypeId::of::<T>();
        let entries = self.entries();
        let at = entries.binary_search_by_key(&key, |(id, _)| *id).ok()?;
        entries[at].1.value(key).downcast_ref()
    }

    /// Takes this node's parent out if this was its last owner, for the
    /// caller to drop next (`Context`'s drop, link by link); the node, left
    /// with a root for a parent, is then freed here. Emptied in place, not
    /// moved out as `Arc::into_inner` would: its table is unsized.
    pub(crate) fn into_parent(self) -> Option<Context<'static>> {
        let ValueNode(mut node) = self;
        node.with_arc_mut(|node| {
            let node = triomphe::Arc::get_mut(node)?;
            Some(mem::replace(
                &mut node.header_mut().parent,
                Context::background(),
            ))
        })
    }
}

/// A type's name without its module paths: `Vec<TraceId>` for
/// `alloc::vec::Vec<my_app::http::ids::TraceId>`, `Ledger::record` for
/// `my_app::Ledger::record`. A type's path is where it is defined, often a
/// private module, not where its users name it; Go prints a key's type by
/// its short name too (`main.traceKey`). Each path keeps its segments from
/// the first capitalized one (a type, and what is named inside it), or its
/// last.
///
/// Hand-written rather than a dependency of every user for one `Display`.
#[derive(Clone, Copy, Debug)]
pub struct ShortTypeName(pub &'static str);

impl ShortTypeName {
    pub(crate) fn of<T: ?Sized>() -> ShortTypeName {
        ShortTypeName(std::any::type_name::<T>())
    }
}

impl fmt::Display for ShortTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while !rest.is_empty() {
            // A path runs to the next character that cannot be part of one
            // (`<`, `,`, ` `, `&`, ...).
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            let (path, tail) = rest.split_at(end);
            f.write_str(without_modules(path))?;
            let delimiter_len = tail.chars().next().map_or(0, char::len_utf8);
            let (delimiter, next) = tail.split_at(delimiter_len);
            f.write_str(delimiter)?;
            rest = next;
        }
        Ok(())
    }
}

/// `a::b::Type::method` → `Type::method`; `a::b::function` → `function`.
fn without_modules(path: &str) -> &str {
    let segments = path.split("::");
    let mut start = 0;
    for segment in segments {
        if segment.starts_with(char::is_uppercase) {
            return &path[start..];
        }
        start += segment.len() + 2;
    }
    path.rsplit("::").next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::ShortTypeName;
    use crate::Context;

    #[derive(Debug, PartialEq)]
    struct TraceId(u8);
    #[derive(Debug, PartialEq)]
    struct RequestId(u8);
    #[derive(Debug, PartialEq)]
    struct User(u8);

    #[test]
    fn a_pair_carries_what_two_value_contexts_carry() {
        let parent = Context::background()
            .with_value(User(1))
            .with_value(TraceId(1));
        let pair = parent.with_value_pair(TraceId(2), RequestId(3));
        let chained = parent.with_value(TraceId(2)).with_value(RequestId(3));
        for ctx in [&pair, &chained] {
            assert_eq!(ctx.value::<User>(), Some(&User(1)), "inherited");
            assert_eq!(ctx.value::<TraceId>(), Some(&TraceId(2)), "shadowed");
            assert_eq!(ctx.value::<RequestId>(), Some(&RequestId(3)));
            assert_eq!(ctx.value::<u8>(), None);
        }
        assert_eq!(pair.to_string(), chained.to_string());
        assert!(pair
            .to_string()
            .ends_with(".WithValue(TraceId).WithValue(RequestId)"));
        let same_type = parent.with_value_pair(User(2), User(3));
        assert_eq!(
            same_type.value::<User>(),
            Some(&User(3)),
            "the second is nearer"
        );
        assert_eq!(
            parent.value::<TraceId>(),
            Some(&TraceId(1)),
            "the parent keeps its own"
        );
    }

    /// The two values of a pair share one allocation, which a child's
    /// table keeps: both outlive the pair's own context, and a child that
    /// shadows one still finds the other.
    #[test]
    fn a_pairs_values_outlive_its_context_in_its_children() {
        let pair = Context::background().with_value_pair(TraceId(1), RequestId(2));
        let child = pair.with_value(TraceId(3));
        drop(pair);
        assert_eq!(child.value::<TraceId>(), Some(&TraceId(3)));
        assert_eq!(child.value::<RequestId>(), Some(&RequestId(2)));
        let grandchild = child.with_value(User(4));
        drop(child);
        assert_eq!(grandchild.value::<RequestId>(), Some(&RequestId(2)));
        assert_eq!(grandchild.value::<TraceId>(), Some(&TraceId(3)));
        assert_eq!(grandchild.value::<User>(), Some(&User(4)));
    }

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
            (
                "app::Ledger::record::{{closure}}",
                "Ledger::record::{{closure}}",
            ),
            ("tokio::time::sleep::Sleep", "Sleep"),
            ("résumé::Café", "Café"),
        ] {
            assert_eq!(ShortTypeName(full).to_string(), short, "{full}");
        }
    }
}
