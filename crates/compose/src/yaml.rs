//! YAML text to a [`Node`] tree, from the parser's events: anchors, aliases
//! and merge keys (`<<: *base`) resolved here, with limits on size, nesting
//! and alias expansion so hostile input ends in an error, never a panic.

use std::collections::HashMap;

use granit_parser::{Event, Options, Parser, ScalarStyle, ScanError, Span, StrInput};

use crate::ctx::Ctx;
use crate::error::{ComposeError, Diagnostic};
use crate::value::{Entry, Kind, Node, Pos};

/// Largest input file.
pub(crate) const MAX_BYTES: usize = 4 << 20;
/// Deepest nesting of lists and mappings.
pub(crate) const MAX_DEPTH: usize = 64;
/// Most nodes in one file, counting every alias expansion.
pub(crate) const MAX_NODES: usize = 1_000_000;
/// Most bytes of scalars (keys and values) in one file, counting every
/// alias and merge key expansion: a small file cannot expand to gigabytes.
pub(crate) const MAX_EXPANDED_BYTES: usize = 16 << 20;

/// Parses one file; `None` for an empty document. A key given twice in a
/// mapping keeps its last value, as docker-compose v1 and Rancher did, with
/// a warning naming both lines.
pub(crate) fn parse(ctx: &mut Ctx, file: usize, text: &str) -> Result<Option<Node>, ComposeError> {
    let at = Pos { file, line: 1 };
    if text.len() > MAX_BYTES {
        return Err(ctx.err(
            ComposeError::ExceedLimit,
            at,
            "yaml",
            format!("file is larger than {} bytes", MAX_BYTES),
        ));
    }
    let mut options = Options::default();
    options.block_nesting_limit = MAX_DEPTH;
    options.flow_nesting_limit = MAX_DEPTH;
    let mut b = Builder {
        parser: Parser::new_from_str_with_options(text, options),
        anchors: HashMap::new(),
        nodes: 0,
        bytes: 0,
        file,
        ctx,
        path: Vec::new(),
        warnings: Vec::new(),
    };
    let root = b.document()?;
    let warnings = std::mem::take(&mut b.warnings);
    ctx.warnings.extend(warnings);
    Ok(root)
}

struct Builder<'a, 'c> {
    parser: Parser<'a, StrInput<'a>>,
    anchors: HashMap<usize, Anchored>,
    /// Nodes so far, alias expansions and anchor copies included.
    nodes: usize,
    /// Bytes of scalars so far, alias expansions included.
    bytes: usize,
    file: usize,
    ctx: &'c Ctx,
    /// Keys from the root to the mapping being read, for warnings.
    path: Vec<String>,
    warnings: Vec<Diagnostic>,
}

impl<'a> Builder<'a, '_> {
    fn pos(&self, span: &Span) -> Pos {
        Pos {
            file: self.file,
            line: span.start.line().max(1),
        }
    }

    fn syntax(&self, e: &ScanError) -> ComposeError {
        let pos = Pos {
            file: self.file,
            line: e.marker().line().max(1),
        };
        self.ctx
            .err(ComposeError::ParseYaml, pos, "yaml", e.kind().to_string())
    }

    fn fail(
        &self,
        kind: fn(crate::Diagnostic) -> ComposeError,
        span: &Span,
        msg: &str,
    ) -> ComposeError {
        self.ctx.err(kind, self.pos(span), "yaml", msg)
    }

    /// The next event that carries data (comments and anchor notes skipped).
    fn next(&mut self) -> Result<(Event<'a>, Span), ComposeError> {
        loop {
            match self.parser.next() {
                None => {
                    let span = Span::default();
                    return Err(self.fail(
                        ComposeError::ParseYaml,
                        &span,
                        "unexpected end of input",
                    ));
                }
                Some(Err(e)) => return Err(self.syntax(&e)),
                Some(Ok((ev, span))) => match ev {
                    Event::StreamStart
                    | Event::StreamEnd
                    | Event::DocumentStart(..)
                    | Event::DocumentEnd
                    | Event::Alias(_)
                    | Event::Scalar(..)
                    | Event::SequenceStart(..)
                    | Event::SequenceEnd
                    | Event::MappingStart(..)
                    | Event::MappingEnd => return Ok((ev, span)),
                    Event::UnresolvedAlias(name) => {
                        let msg = format!("unknown alias *{name}");
                        return Err(self.fail(ComposeError::ParseYaml, &span, &msg));
                    }
                    _ => continue,
                },
            }
        }
    }

    fn document(&mut self) -> Result<Option<Node>, ComposeError> {
        let (mut ev, mut span) = self.next()?;
        if matches!(ev, Event::StreamStart) {
            (ev, span) = self.next()?;
        }
        match ev {
            Event::StreamEnd => return Ok(None),
            Event::DocumentStart(..) => {}
            _ => return Err(self.fail(ComposeError::ParseYaml, &span, "expected a document")),
        }
        let (ev, span) = self.next()?;
        let root = if matches!(ev, Event::DocumentEnd) {
            return Ok(None);
        } else {
            self.node(ev, span, 0)?
        };
        let (ev, _) = self.next()?;
        if !matches!(ev, Event::DocumentEnd) {
            return Err(self.fail(
                ComposeError::ParseYaml,
                &span,
                "expected the end of the document",
            ));
        }
        let (ev, span) = self.next()?;
        if !matches!(ev, Event::StreamEnd) {
            return Err(self.fail(
                ComposeError::ParseYaml,
                &span,
                "only one YAML document per file is supported",
            ));
        }
        Ok(Some(root))
    }

    fn count(&mut self, n: usize, span: &Span) -> Result<(), ComposeError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            let msg = format!("more than {MAX_NODES} values (after expanding aliases)");
            return Err(self.fail(ComposeError::ExceedLimit, span, &msg));
        }
        Ok(())
    }

    fn count_bytes(&mut self, n: usize, span: &Span) -> Result<(), ComposeError> {
        self.bytes = self.bytes.saturating_add(n);
        if self.bytes > MAX_EXPANDED_BYTES {
            let msg = format!(
                "more than {MAX_EXPANDED_BYTES} bytes of keys and values (after expanding aliases)"
            );
            return Err(self.fail(ComposeError::ExceedLimit, span, &msg));
        }
        Ok(())
    }

    fn node(&mut self, ev: Event<'a>, span: Span, depth: usize) -> Result<Node, ComposeError> {
        if depth > MAX_DEPTH {
            let msg = format!("nested deeper than {MAX_DEPTH} levels");
            return Err(self.fail(ComposeError::ExceedLimit, &span, &msg));
        }
        self.count(1, &span)?;
        let pos = self.pos(&span);
        let (kind, anchor) = match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.count_bytes(text.len(), &span)?;
                let plain = style == ScalarStyle::Plain && tag.is_none();
                (scalar(&text, plain), anchor)
            }
            Event::SequenceStart(_, anchor, _) => (self.sequence(depth)?, anchor),
            Event::MappingStart(_, anchor, _) => (self.mapping(depth)?, anchor),
            Event::Alias(id) => {
                // Counted before the copy is made, so a refused expansion
                // costs nothing.
                let Some(&Anchored { nodes, bytes, .. }) = self.anchors.get(&id) else {
                    return Err(self.fail(ComposeError::ParseYaml, &span, "unknown alias"));
                };
                self.count(nodes, &span)?;
                self.count_bytes(bytes, &span)?;
                let Some(target) = self.anchors.get(&id).map(|a| a.node.clone()) else {
                    return Err(self.fail(ComposeError::ParseYaml, &span, "unknown alias"));
                };
                return Ok(Node { pos, ..target });
            }
            _ => return Err(self.fail(ComposeError::ParseYaml, &span, "expected a value")),
        };
        let node = Node { pos, kind };
        if anchor != 0 {
            let (nodes, bytes) = measure(&node);
            self.count(nodes, &span)?;
            let anchored = Anchored {
                node: node.clone(),
                nodes,
                bytes,
            };
            self.anchors.insert(anchor, anchored);
        }
        Ok(node)
    }

    fn sequence(&mut self, depth: usize) -> Result<Kind, ComposeError> {
        let mut items = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::SequenceEnd) {
                return Ok(Kind::Seq(items));
            }
            self.path.push(format!("[{}]", items.len()));
            let item = self.node(ev, span, depth + 1);
            self.path.pop();
            items.push(item?);
        }
    }

    fn mapping(&mut self, depth: usize) -> Result<Kind, ComposeError> {
        let mut entries: Vec<Entry> = Vec::new();
        // The index of each key of `entries`, so that a mapping of n keys
        // costs O(n).
        let mut seen: HashMap<String, usize> = HashMap::new();
        let mut merges: Vec<Node> = Vec::new();
        loop {
            let (ev, span) = self.next()?;
            if matches!(ev, Event::MappingEnd) {
                break;
            }
            let merge_key =
                matches!(&ev, Event::Scalar(t, ScalarStyle::Plain, _, None) if t == "<<");
            let key = self.node(ev, span, depth + 1)?;
            let key_name = match key.kind {
                Kind::Str(s) => s,
                Kind::Null => String::new(),
                _ => {
                    return Err(self.fail(
                        ComposeError::ParseYaml,
                        &span,
                        "mapping keys must be scalars",
                    ));
                }
            };
            let (ev, vspan) = self.next()?;
            self.path.push(key_name.clone());
            let value = self.node(ev, vspan, depth + 1);
            self.path.pop();
            let value = value?;
            if merge_key {
                merges.push(value);
                continue;
            }
            let entry = Entry {
                key: key_name,
                pos: key.pos,
                value,
            };
            match seen.get(&entry.key).and_then(|&i| entries.get_mut(i)) {
                Some(first) => {
                    self.duplicate(first.pos, &entry);
                    *first = entry;
                }
                None => {
                    seen.insert(entry.key.clone(), entries.len());
                    entries.push(entry);
                }
            }
        }
        for source in merges {
            self.merge_into(&mut entries, &mut seen, source)?;
        }
        Ok(Kind::Map(entries))
    }

    /// A key given again: the later value is kept, with a warning naming
    /// both lines.
    fn duplicate(&mut self, first: Pos, again: &Entry) {
        let mut key = String::new();
        for part in self.path.iter().chain(std::iter::once(&again.key)) {
            if !key.is_empty() && !part.starts_with('[') {
                key.push('.');
            }
            key.push_str(part);
        }
        let msg = format!(
            "duplicate key (also on line {}): the value on line {} is used, as docker-compose v1 and Rancher did",
            first.line, again.pos.line
        );
        let d = self.ctx.diagnostic(again.pos, &key, msg);
        self.warnings.push(d);
    }

    /// `<<: *a` or `<<: [*a, *b]`: keys not already present are added, the
    /// first source that has a key winning.
    fn merge_into(
        &self,
        entries: &mut Vec<Entry>,
        seen: &mut HashMap<String, usize>,
        source: Node,
    ) -> Result<(), ComposeError> {
        let maps = match source.kind {
            Kind::Map(m) => vec![m],
            Kind::Seq(items) => {
                let mut maps = Vec::new();
                for item in items {
                    match item.kind {
                        Kind::Map(m) => maps.push(m),
                        _ => return Err(self.merge_error(source.pos)),
                    }
                }
                maps
            }
            Kind::Null => Vec::new(),
            Kind::Str(_) => return Err(self.merge_error(source.pos)),
        };
        for map in maps {
            for e in map {
                if !seen.contains_key(&e.key) {
                    seen.insert(e.key.clone(), entries.len());
                    entries.push(e);
                }
            }
        }
        Ok(())
    }

    fn merge_error(&self, pos: Pos) -> ComposeError {
        self.ctx.err(
            ComposeError::ParseYaml,
            pos,
            "<<",
            "a merge key takes a mapping or a list of mappings",
        )
    }
}

fn scalar(text: &str, plain: bool) -> Kind {
    if plain && matches!(text, "" | "~" | "null" | "Null" | "NULL") {
        Kind::Null
    } else {
        Kind::Str(text.to_string())
    }
}

/// An anchored node, with what one expansion of it costs.
struct Anchored {
    node: Node,
    nodes: usize,
    /// Bytes of its scalars, keys included.
    bytes: usize,
}

/// Number of nodes and bytes of scalars (keys included) in a tree.
fn measure(node: &Node) -> (usize, usize) {
    match &node.kind {
        Kind::Null => (1, 0),
        Kind::Str(s) => (1, s.len()),
        Kind::Seq(items) => items.iter().map(measure).fold((1, 0), add),
        Kind::Map(entries) => entries
            .iter()
            .map(|e| add((1, e.key.len()), measure(&e.value)))
            .fold((1, 0), add),
    }
}

fn add(a: (usize, usize), b: (usize, usize)) -> (usize, usize) {
    (a.0.saturating_add(b.0), a.1.saturating_add(b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Option<Node>, ComposeError> {
        let mut ctx = Ctx::new(vec!["f.yml".into()]);
        parse(&mut ctx, 0, text)
    }

    fn warnings(text: &str) -> Vec<String> {
        let mut ctx = Ctx::new(vec!["f.yml".into()]);
        parse(&mut ctx, 0, text).unwrap();
        ctx.warnings.iter().map(|w| w.to_string()).collect()
    }

    fn s(n: &Node) -> &str {
        match &n.kind {
            Kind::Str(s) => s,
            _ => "?",
        }
    }

    #[test]
    fn scalars_stay_strings_and_lines_are_one_based() {
        let n = load("a: 0755\nb: \"x\"\nc:\nd: yes\n").unwrap().unwrap();
        assert_eq!(s(&n.get("a").unwrap().value), "0755");
        assert_eq!(n.get("b").unwrap().pos.line, 2);
        assert!(n.get("c").unwrap().value.is_null());
        assert_eq!(s(&n.get("d").unwrap().value), "yes");
    }

    #[test]
    fn merge_keys_add_missing_keys_only() {
        let text = "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n";
        let n = load(text).unwrap().unwrap();
        let m = &n.get("m").unwrap().value;
        assert_eq!(s(&m.get("x").unwrap().value), "1");
        assert_eq!(s(&m.get("y").unwrap().value), "3");
    }

    #[test]
    fn billion_laughs_hits_the_limit() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let err = load(&text).unwrap_err();
        assert_eq!(err.category(), "limit", "{err}");
    }

    /// A 1 MiB anchor through 5 levels of 10 aliases (10^5 MiB expanded)
    /// is refused at the alias that crosses the bound, naming its line.
    #[test]
    fn aliases_of_big_scalars_are_refused_by_expanded_bytes() {
        let mut text = format!("a0: &a0 {}\n", "x".repeat(1 << 20));
        for i in 1..=5 {
            let items = vec![format!("*a{}", i - 1); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{items}]\n"));
        }
        let err = load(&text).unwrap_err();
        assert!(matches!(err, ComposeError::ExceedLimit(_)), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "f.yml:3: yaml: more than {MAX_EXPANDED_BYTES} bytes of keys and values \
                 (after expanding aliases)"
            )
        );
    }

    #[test]
    fn merge_keys_count_toward_expanded_bytes() {
        let mut text = format!("base: &b {{k: {}}}\n", "v".repeat(1 << 20));
        for i in 0..20 {
            text.push_str(&format!("m{i}: {{<<: *b}}\n"));
        }
        let err = load(&text).unwrap_err();
        assert!(matches!(err, ComposeError::ExceedLimit(_)), "{err}");
        assert!(
            err.to_string().starts_with("f.yml:16: yaml: more than"),
            "{err}"
        );
    }

    #[test]
    fn aliases_within_the_byte_bound_still_expand() {
        let text = format!("a: &a {}\nb: [*a, *a, *a]\n", "x".repeat(1 << 20));
        let n = load(&text).unwrap().unwrap();
        let Kind::Seq(items) = &n.get("b").unwrap().value.kind else {
            panic!("b is a list");
        };
        assert_eq!(items.len(), 3);
        assert_eq!(s(&items[2]).len(), 1 << 20);
    }

    #[test]
    fn a_mapping_of_many_keys_loads() {
        let text: String = (0..100_000).map(|i| format!("k{i}: {i}\n")).collect();
        let n = load(&text).unwrap().unwrap();
        assert_eq!(s(&n.get("k99999").unwrap().value), "99999");
        let Kind::Map(entries) = &n.kind else {
            panic!("a mapping");
        };
        assert_eq!(entries.len(), 100_000);
    }

    #[test]
    fn deep_nesting_is_an_error() {
        let text = "[".repeat(200) + &"]".repeat(200);
        assert!(load(&text).is_err());
    }

    #[test]
    fn a_duplicate_key_keeps_the_last_value_with_a_warning_naming_both_lines() {
        let n = load("a: 1\nb: 2\na: 3\n").unwrap().unwrap();
        assert_eq!(s(&n.get("a").unwrap().value), "3");
        assert_eq!(n.get("a").unwrap().pos.line, 3);
        let Kind::Map(entries) = &n.kind else {
            panic!("a mapping");
        };
        assert_eq!(entries.len(), 2);
        assert_eq!(
            warnings("a: 1\nb: 2\na: 3\n"),
            [
                "f.yml:3: a: duplicate key (also on line 1): the value on line 3 is used, \
              as docker-compose v1 and Rancher did"
            ]
        );
        let nested = "s:\n  web:\n    labels:\n      x: 1\n      x: 2\n  l: [{k: 1, k: 2}]\n";
        let w = warnings(nested);
        assert!(
            w[0].starts_with("f.yml:5: s.web.labels.x: duplicate key (also on line 4)"),
            "{w:?}"
        );
        assert!(
            w[1].starts_with("f.yml:6: s.l[0].k: duplicate key (also on line 6)"),
            "{w:?}"
        );
        let merged = "b: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n  y: 3\n";
        let n = load(merged).unwrap().unwrap();
        let m = &n.get("m").unwrap().value;
        assert_eq!(s(&m.get("y").unwrap().value), "3");
        assert_eq!(s(&m.get("x").unwrap().value), "1");
    }

    #[test]
    fn empty_and_multi_document_inputs() {
        assert!(load("").unwrap().is_none());
        assert!(load("# only a comment\n").unwrap().is_none());
        assert!(load("a: 1\n---\nb: 2\n").is_err());
    }
}
