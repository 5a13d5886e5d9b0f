//! The /24 slices of each environment's range that its nodes hold, as this
//! server's joins know them, so that a join picks a free slice without
//! listing every node (at 5,000 nodes, that list made joins O(nodes) each).
//!
//! The book is loaded from the store on the first join into an environment
//! and kept up to date by the joins, which take turns (`AppState::joins`).
//! It may hold more than the store (a slice picked by a join whose write
//! failed, a slice of a node another server deleted): a slice free in the
//! book is free in the store, and when the book runs out it is loaded
//! again. A node deleted through this server gives its slice back.

use std::collections::{BTreeSet, HashMap};

use corral_types::{Ipv4Cidr, RawObject};

#[derive(Debug, Default)]
pub struct SliceBook {
    environments: HashMap<String, Held>,
}

#[derive(Debug)]
struct Held {
    range: Ipv4Cidr,
    used: BTreeSet<u32>,
}

impl SliceBook {
    /// True when the book holds `env`'s slices of `range` (a book of
    /// another range, from before the range changed, does not count).
    pub fn knows(&self, env: &str, range: &Ipv4Cidr) -> bool {
        self.environments
            .get(env)
            .is_some_and(|held| held.range == *range)
    }

    /// Replaces what the book holds for `env` with the slices of `range`
    /// that `nodes` (the environment's node objects) hold.
    pub fn load(&mut self, env: &str, range: Ipv4Cidr, nodes: &[RawObject]) {
        let used = nodes
            .iter()
            .filter_map(|n| slice_of(&n.status))
            .filter_map(|slice| range.slice_index(&slice))
            .collect();
        self.environments
            .insert(env.to_string(), Held { range, used });
    }

    /// Takes the lowest free slice (from index 1: the range's first /24 is
    /// left out) of `env`'s range. None when the book does not know `env`
    /// for `range`, or holds no free slice.
    pub fn take(&mut self, env: &str, range: &Ipv4Cidr) -> Option<Ipv4Cidr> {
        let held = self.environments.get_mut(env)?;
        if held.range != *range {
            return None;
        }
        let index = (1..range.slice_count()).find(|i| !held.used.contains(i))?;
        let slice = range.slice(index)?;
        held.used.insert(index);
        Some(slice)
    }

    /// Gives back the slice of a node that was deleted (its `status`), so
    /// the next join may take it, as it would after a reload.
    pub fn release(&mut self, env: &str, node_status: &serde_json::Value) {
        let Some(held) = self.environments.get_mut(env) else {
            return;
        };
        if let Some(index) = slice_of(node_status).and_then(|slice| held.range.slice_index(&slice))
        {
            held.used.remove(&index);
        }
    }

    /// Drops what the book holds for `env`: the next join loads it again
    /// (after a write that lost a race, the store knows better).
    pub fn forget(&mut self, env: &str) {
        self.environments.remove(env);
    }
}

/// The slice a node's `status` records (`subnet`), if it is a valid CIDR.
fn slice_of(node_status: &serde_json::Value) -> Option<Ipv4Cidr> {
    node_status.get("subnet")?.as_str()?.parse().ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use corral_types::{Kind, Meta};

    use super::*;

    fn node(name: &str, subnet: &str) -> RawObject {
        RawObject {
            kind: Kind::Node,
            meta: Meta {
                name: name.into(),
                environment: "default".into(),
                ..Meta::default()
            },
            spec: serde_json::json!({}),
            status: serde_json::json!({ "subnet": subnet }),
        }
    }

    fn range(s: &str) -> Ipv4Cidr {
        s.parse().unwrap()
    }

    #[test]
    fn takes_the_lowest_slice_no_loaded_node_holds_and_never_the_same_twice() {
        let r = range("10.42.0.0/16");
        let mut book = SliceBook::default();
        assert_eq!(book.take("default", &r), None, "not loaded yet");
        let nodes = [
            node("a", "10.42.1.0/24"),
            node("b", "10.42.3.0/24"),
            node("c", ""),
            node("d", "10.99.0.0/24"),
        ];
        book.load("default", r, &nodes);
        assert!(book.knows("default", &r));
        assert_eq!(book.take("default", &r), Some(range("10.42.2.0/24")));
        assert_eq!(book.take("default", &r), Some(range("10.42.4.0/24")));
        assert_eq!(book.take("default", &r), Some(range("10.42.5.0/24")));
    }

    #[test]
    fn a_full_range_gives_none_and_a_reload_frees_the_slices_of_removed_nodes() {
        let r = range("10.42.0.0/22");
        let mut book = SliceBook::default();
        book.load("default", r, &[]);
        let taken: Vec<_> = std::iter::from_fn(|| book.take("default", &r)).collect();
        assert_eq!(taken.len(), 3, "{taken:?}");
        assert_eq!(book.take("default", &r), None);
        book.load("default", r, &[node("a", "10.42.1.0/24")]);
        assert_eq!(book.take("default", &r), Some(range("10.42.2.0/24")));
    }

    #[test]
    fn a_released_slice_is_taken_again_first() {
        let r = range("10.42.0.0/16");
        let mut book = SliceBook::default();
        book.load(
            "default",
            r,
            &[node("a", "10.42.1.0/24"), node("b", "10.42.2.0/24")],
        );
        book.release("default", &node("a", "10.42.1.0/24").status);
        book.release("default", &node("c", "").status);
        assert_eq!(book.take("default", &r), Some(range("10.42.1.0/24")));
        assert_eq!(book.take("default", &r), Some(range("10.42.3.0/24")));
    }

    #[test]
    fn a_changed_range_or_a_forgotten_environment_is_not_known() {
        let r = range("10.42.0.0/16");
        let mut book = SliceBook::default();
        book.load("default", r, &[]);
        let other = range("10.43.0.0/16");
        assert!(!book.knows("default", &other));
        assert_eq!(book.take("default", &other), None);
        book.forget("default");
        assert!(!book.knows("default", &r));
    }
}
