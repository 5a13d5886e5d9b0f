//! The answer to one path: walking the tree and rendering the subtree as
//! plain text or JSON. Pure, so every path is unit tested.

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::node::Node;
use crate::tree::{MetadataTree, VERSIONS};

/// A rendered answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub body: String,
    /// True when `body` is JSON, false for plain text.
    pub json: bool,
}

impl Answer {
    /// The `Content-Type` of the body.
    pub fn content_type(&self) -> &'static str {
        if self.json {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        }
    }
}

/// Why a path has no answer; every variant is a 404.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotFound {
    #[error("not found: {path}")]
    Path { path: String },
    #[error("not found: unknown version {version:?} (known: {known})", known = VERSIONS.join(", "))]
    Version { version: String },
    #[error(
        "not found: self is known only to containers of this environment, and {caller} is not the address of one"
    )]
    NotAContainer { caller: String },
}

/// Answers `path` (the request path, still percent-encoded, without the
/// query) for a request from `caller`, as JSON when `json` is true.
pub fn answer(
    tree: &MetadataTree,
    caller: Option<IpAddr>,
    path: &str,
    json: bool,
) -> Result<Answer, NotFound> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let Some((version, rest)) = segments.split_first() else {
        return Ok(versions(json));
    };
    let root = tree
        .root(version, caller)
        .ok_or_else(|| NotFound::Version {
            version: version.clone(),
        })?;
    let mut node = &root;
    for (depth, seg) in rest.iter().enumerate() {
        match node.child(seg) {
            Some(child) => node = child,
            None if depth == 0 && seg == "self" => {
                return Err(NotFound::NotAContainer {
                    caller: caller.map_or_else(|| "unknown".to_string(), |c| c.to_string()),
                });
            }
            None => {
                return Err(NotFound::Path {
                    path: path.to_string(),
                });
            }
        }
    }
    Ok(render(node, json))
}

/// The answer of `/`: the version prefixes, one per line (a JSON array).
fn versions(json: bool) -> Answer {
    if json {
        return render(&crate::node::strings(VERSIONS), json);
    }
    let body = VERSIONS.iter().map(|v| format!("{v}\n")).collect();
    Answer { body, json }
}

/// Renders a subtree as JSON or as Rancher's plain text.
pub fn render(node: &Node, json: bool) -> Answer {
    if json {
        // Serializing a `Node` cannot fail: its map keys are strings and it
        // holds no floats; an empty body would be the only result anyway.
        let body = serde_json::to_string(node).unwrap_or_default();
        return Answer { body, json };
    }
    Answer {
        body: text(node),
        json,
    }
}

/// Plain text: a scalar as is (no trailing newline), a map's keys one per
/// line (maps and lists with a trailing `/`), a list's items as `index=name`
/// when they have a name, else `index/` for maps and lists and `index`.
pub fn text(node: &Node) -> String {
    let mut out = String::new();
    match node {
        Node::Str(s) => out.push_str(s),
        Node::Num(n) => out.push_str(&n.to_string()),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Map(m) => {
            for (k, v) in m {
                let slash = if v.is_branch() { "/" } else { "" };
                let _ = writeln!(out, "{}{slash}", percent_encode(k));
            }
        }
        Node::List(items) => {
            for (i, item) in items.iter().enumerate() {
                let _ = match item.name() {
                    Some(name) => writeln!(out, "{i}={}", percent_encode(name)),
                    None if item.is_branch() => writeln!(out, "{i}/"),
                    None => writeln!(out, "{i}"),
                };
            }
        }
    }
    out
}

/// Escapes a key for a listing: everything but letters, digits and `-._~`
/// (so a key holding `/` can be walked to with its escaped form).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Decodes `%XX` escapes of a path segment; a malformed escape is kept as is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| char::from(b).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            && let Ok(b) = u8::try_from(h * 16 + l)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
