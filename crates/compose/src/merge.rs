//! Several docker-compose files merged in order, later wins, like
//! `docker compose -f a.yml -f b.yml`: mappings merge key by key, list-like
//! keys (`ports`, `volumes`, ...) append, `environment` and `labels` merge
//! by name whatever form they are written in, anything else is replaced.

use std::collections::HashMap;

use crate::value::{Entry, Kind, Node};

const APPENDED: &[&str] = &[
    "ports",
    "expose",
    "volumes",
    "tmpfs",
    "cap_add",
    "cap_drop",
    "dns",
    "dns_search",
    "external_links",
    "env_file",
];

const BY_NAME: &[&str] = &["environment", "labels"];

pub(crate) fn merge(base: Node, over: Node) -> Node {
    match (base.kind, over.kind) {
        (Kind::Map(mut entries), Kind::Map(over_entries)) => {
            // Where each key is, so that merging n keys costs O(n).
            let mut at: HashMap<String, usize> = entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.key.clone(), i))
                .collect();
            for o in over_entries {
                match at.get(&o.key).copied().and_then(|i| entries.get_mut(i)) {
                    Some(e) => {
                        let old = std::mem::replace(&mut e.value, null());
                        e.value = merge_key(&o.key, old, o.value);
                    }
                    None => {
                        at.insert(o.key.clone(), entries.len());
                        entries.push(o);
                    }
                }
            }
            Node {
                pos: base.pos,
                kind: Kind::Map(entries),
            }
        }
        (_, kind) => Node {
            pos: over.pos,
            kind,
        },
    }
}

fn null() -> Node {
    Node {
        pos: Default::default(),
        kind: Kind::Null,
    }
}

fn merge_key(key: &str, base: Node, over: Node) -> Node {
    if BY_NAME.contains(&key) {
        return merge(as_map(base), as_map(over));
    }
    match (base.kind, over.kind) {
        (Kind::Seq(mut a), Kind::Seq(b)) if APPENDED.contains(&key) => {
            a.extend(b);
            Node {
                pos: over.pos,
                kind: Kind::Seq(a),
            }
        }
        (base_kind, over_kind) => merge(
            Node {
                pos: base.pos,
                kind: base_kind,
            },
            Node {
                pos: over.pos,
                kind: over_kind,
            },
        ),
    }
}

/// `[K=V, K2]` as `{K: V, K2: null}`; anything else unchanged.
fn as_map(node: Node) -> Node {
    let Kind::Seq(items) = node.kind else {
        return node;
    };
    // A repeated name replaces the earlier one, at the later place.
    let mut entries: Vec<Option<Entry>> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for item in items {
        let (key, value) = match &item.kind {
            Kind::Str(s) => match s.split_once('=') {
                Some((k, v)) => (k.to_string(), Kind::Str(v.to_string())),
                None => (s.clone(), Kind::Null),
            },
            _ => continue,
        };
        if let Some(earlier) = at.insert(key.clone(), entries.len()) {
            entries[earlier] = None;
        }
        entries.push(Some(Entry {
            key,
            pos: item.pos,
            value: Node {
                pos: item.pos,
                kind: value,
            },
        }));
    }
    Node {
        pos: node.pos,
        kind: Kind::Map(entries.into_iter().flatten().collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Pos;

    fn str_node(s: &str) -> Node {
        Node {
            pos: Pos::default(),
            kind: Kind::Str(s.to_string()),
        }
    }

    fn map(keys: impl Iterator<Item = String>) -> Node {
        let entries = keys
            .map(|k| Entry {
                value: str_node(&k),
                key: k,
                pos: Pos::default(),
            })
            .collect();
        Node {
            pos: Pos::default(),
            kind: Kind::Map(entries),
        }
    }

    #[test]
    fn merging_files_of_many_keys_keeps_every_key_once() {
        let base = map((0..100_000).map(|i| format!("k{i}")));
        let over = map((50_000..150_000).map(|i| format!("k{i}")));
        let Kind::Map(entries) = merge(base, over).kind else {
            panic!("a mapping");
        };
        assert_eq!(entries.len(), 150_000);
        assert_eq!(entries[149_999].key, "k149999");
    }

    #[test]
    fn a_repeated_name_in_a_list_keeps_the_last_value_at_its_place() {
        let list = Node {
            pos: Pos::default(),
            kind: Kind::Seq(["A=1", "B=2", "A=3"].into_iter().map(str_node).collect()),
        };
        let Kind::Map(entries) = as_map(list).kind else {
            panic!("a mapping");
        };
        let got: Vec<(&str, &Kind)> = entries
            .iter()
            .map(|e| (e.key.as_str(), &e.value.kind))
            .collect();
        assert_eq!(
            got,
            [("B", &Kind::Str("2".into())), ("A", &Kind::Str("3".into()))]
        );
        let many = Node {
            pos: Pos::default(),
            kind: Kind::Seq(
                (0..100_000)
                    .map(|i| str_node(&format!("K{}=v", i % 50_000)))
                    .collect(),
            ),
        };
        let Kind::Map(entries) = as_map(many).kind else {
            panic!("a mapping");
        };
        assert_eq!(entries.len(), 50_000);
    }
}
