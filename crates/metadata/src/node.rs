//! The metadata tree's values: strings, numbers, booleans, lists and maps.
//!
//! Subtrees are shared through `Arc`, so a service map appears in
//! `services`, inside its stack and under every caller's `self` without
//! being copied.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// One value of the metadata tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Str(String),
    Num(u64),
    Bool(bool),
    List(Vec<Arc<Node>>),
    Map(BTreeMap<String, Arc<Node>>),
}

impl Node {
    /// The `name` field of a map, if it has a string one.
    pub fn name(&self) -> Option<&str> {
        match self {
            Node::Map(m) => match m.get("name").map(Arc::as_ref) {
                Some(Node::Str(s)) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// True for maps and lists (listed with a trailing `/` in text).
    pub fn is_branch(&self) -> bool {
        matches!(self, Node::List(_) | Node::Map(_))
    }

    /// The child at `key`: a map key, or a list index or item name.
    pub fn child(&self, key: &str) -> Option<&Arc<Node>> {
        match self {
            Node::Map(m) => m.get(key),
            Node::List(items) => match key.parse::<usize>() {
                Ok(i) => items.get(i),
                Err(_) => items.iter().find(|n| n.name() == Some(key)),
            },
            _ => None,
        }
    }
}

impl From<&str> for Node {
    fn from(s: &str) -> Self {
        Node::Str(s.to_string())
    }
}

impl From<String> for Node {
    fn from(s: String) -> Self {
        Node::Str(s)
    }
}

impl From<u64> for Node {
    fn from(n: u64) -> Self {
        Node::Num(n)
    }
}

impl From<bool> for Node {
    fn from(b: bool) -> Self {
        Node::Bool(b)
    }
}

/// Builds a map node field by field.
#[derive(Debug, Default)]
pub struct MapBuilder(BTreeMap<String, Arc<Node>>);

impl MapBuilder {
    pub fn new() -> Self {
        MapBuilder::default()
    }

    /// Adds a field.
    pub fn with(mut self, key: &str, value: impl Into<Node>) -> Self {
        self.0.insert(key.to_string(), Arc::new(value.into()));
        self
    }

    /// Adds a field whose value is already shared.
    pub fn with_shared(mut self, key: &str, value: Arc<Node>) -> Self {
        self.0.insert(key.to_string(), value);
        self
    }

    pub fn build(self) -> Node {
        Node::Map(self.0)
    }
}

/// A list of strings.
pub fn strings<I, S>(items: I) -> Node
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    Node::List(
        items
            .into_iter()
            .map(|s| Arc::new(Node::Str(s.into())))
            .collect(),
    )
}

/// A map of strings.
pub fn string_map<'a, I>(items: I) -> Node
where
    I: IntoIterator<Item = (&'a String, &'a String)>,
{
    Node::Map(
        items
            .into_iter()
            .map(|(k, v)| (k.clone(), Arc::new(Node::Str(v.clone()))))
            .collect(),
    )
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Str(s) => serializer.serialize_str(s),
            Node::Num(n) => serializer.serialize_u64(*n),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item.as_ref())?;
                }
                seq.end()
            }
            Node::Map(m) => {
                let mut map = serializer.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v.as_ref())?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn named(name: &str) -> Arc<Node> {
        Arc::new(MapBuilder::new().with("name", name).build())
    }

    #[test]
    fn list_items_are_found_by_index_or_by_name() {
        let list = Node::List(vec![named("a"), named("b")]);
        assert_eq!(list.child("1").unwrap().name(), Some("b"));
        assert_eq!(list.child("a").unwrap().name(), Some("a"));
        assert!(list.child("2").is_none());
        assert!(list.child("c").is_none());
    }

    #[test]
    fn scalars_have_no_children() {
        assert!(Node::from("x").child("0").is_none());
        assert!(Node::Num(1).child("name").is_none());
    }

    #[test]
    fn nodes_serialize_as_plain_json() {
        let node = MapBuilder::new()
            .with("n", 3u64)
            .with("b", true)
            .with("l", strings(["x", "y"]))
            .build();
        let json = serde_json::to_string(&node).unwrap();
        assert_eq!(json, r#"{"b":true,"l":["x","y"],"n":3}"#);
    }
}
