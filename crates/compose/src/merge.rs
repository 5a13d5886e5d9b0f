//! Several docker-compose files merged in order, later wins, like
//! `docker compose -f a.yml -f b.yml`: mappings merge key by key, list-like
//! keys (`ports`, `volumes`, ...) append, `environment` and `labels` merge
//! by name whatever form they are written in, anything else is replaced.

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
            for o in over_entries {
                match entries.iter_mut().find(|e| e.key == o.key) {
                    Some(e) => {
                        let old = std::mem::replace(&mut e.value, null());
                        e.value = merge_key(&o.key, old, o.value);
                    }
                    None => entries.push(o),
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
    let mut entries = Vec::new();
    for item in items {
        let (key, value) = match &item.kind {
            Kind::Str(s) => match s.split_once('=') {
                Some((k, v)) => (k.to_string(), Kind::Str(v.to_string())),
                None => (s.clone(), Kind::Null),
            },
            _ => continue,
        };
        entries.retain(|e: &Entry| e.key != key);
        entries.push(Entry {
            key,
            pos: item.pos,
            value: Node {
                pos: item.pos,
                kind: value,
            },
        });
    }
    Node {
        pos: node.pos,
        kind: Kind::Map(entries),
    }
}
