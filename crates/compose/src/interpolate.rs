//! `${VAR}` interpolation, applied to every scalar value (never to keys)
//! before the values are typed: `${VAR}`, `$VAR`, `${VAR:-default}`,
//! `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
//! `${VAR+alt}` and `$$` for a literal `$`. Defaults may nest `${...}`.
//! The output is bounded per value and per file, so a short reference to
//! a long variable cannot blow a small file up.

use std::collections::{BTreeMap, BTreeSet};

use crate::ctx::{Ctx, index, join};
use crate::error::ComposeError;
use crate::value::{Kind, Node};

/// Longest value after interpolation.
pub(crate) const MAX_VALUE_BYTES: usize = 1 << 20;
/// Most bytes all the interpolated values of one file may add up to.
pub(crate) const MAX_FILE_BYTES: usize = 16 << 20;

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// `${NAME:?message}` with NAME unset (or empty, with the colon).
    Required { name: String, message: String },
    /// A `${` without its `}`, or an empty name.
    Syntax(String),
    /// Substituting `name` made the value longer than the bound given.
    TooLong { name: String },
}

/// The result of one interpolation: the text, and the names that were unset.
pub(crate) struct Interpolated {
    pub text: String,
    pub unset: Vec<String>,
    /// The longest `text` may grow to by substituting variables.
    max: usize,
}

impl Interpolated {
    /// Appends the value of variable `name`, within the bound.
    fn push_value(&mut self, name: &str, value: &str) -> Result<(), Failure> {
        if self.text.len().saturating_add(value.len()) > self.max {
            return Err(Failure::TooLong {
                name: name.to_string(),
            });
        }
        self.text.push_str(value);
        Ok(())
    }
}

/// Interpolates `text`; substituting a variable that would take the result
/// past `max` bytes fails with [`Failure::TooLong`].
pub(crate) fn interpolate(
    text: &str,
    vars: &BTreeMap<String, String>,
    max: usize,
) -> Result<Interpolated, Failure> {
    let mut out = Interpolated {
        text: String::with_capacity(text.len().min(max)),
        unset: Vec::new(),
        max,
    };
    expand(text, vars, &mut out, 0)?;
    Ok(out)
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Index of the `}` closing a `${` whose body starts at `start`.
fn closing_brace(text: &str, start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut i = start;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

fn expand(
    text: &str,
    vars: &BTreeMap<String, String>,
    out: &mut Interpolated,
    depth: usize,
) -> Result<(), Failure> {
    if depth > 8 {
        return Err(Failure::Syntax("defaults nested too deeply".into()));
    }
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.text.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.text.push('$');
            rest = tail;
        } else if after.starts_with('{') {
            let offset = at + 2;
            let Some(end) = closing_brace(rest, offset) else {
                return Err(Failure::Syntax(format!(
                    "{text:?}: \"${{\" without a closing \"}}\""
                )));
            };
            let body = &rest[offset..end];
            braced(body, vars, out, depth)?;
            rest = &rest[end + 1..];
        } else if after.starts_with(is_name_start) {
            let len = after
                .find(|c: char| !is_name_char(c))
                .unwrap_or(after.len());
            let name = &after[..len];
            lookup(name, vars, out)?;
            rest = &after[len..];
        } else {
            // A lone `$` is kept as written.
            out.text.push('$');
            rest = after;
        }
    }
    out.text.push_str(rest);
    Ok(())
}

fn lookup(
    name: &str,
    vars: &BTreeMap<String, String>,
    out: &mut Interpolated,
) -> Result<(), Failure> {
    match vars.get(name) {
        Some(v) => out.push_value(name, v)?,
        None => out.unset.push(name.to_string()),
    }
    Ok(())
}

/// The inside of `${...}`.
fn braced(
    body: &str,
    vars: &BTreeMap<String, String>,
    out: &mut Interpolated,
    depth: usize,
) -> Result<(), Failure> {
    let len = body.find(|c: char| !is_name_char(c)).unwrap_or(body.len());
    let (name, op) = body.split_at(len);
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(Failure::Syntax(format!(
            "\"${{{body}}}\" has no variable name"
        )));
    }
    let value = vars.get(name);
    let set = value.is_some();
    let non_empty = value.is_some_and(|v| !v.is_empty());
    let (operator, arg) = split_operator(op)
        .ok_or_else(|| Failure::Syntax(format!("\"${{{body}}}\": unknown operator {op:?}")))?;
    match operator {
        "" => lookup(name, vars, out)?,
        ":-" | "-" => {
            let use_value = if operator == ":-" { non_empty } else { set };
            match value {
                Some(v) if use_value => out.push_value(name, v)?,
                _ => expand(arg, vars, out, depth + 1)?,
            }
        }
        ":+" | "+" => {
            let use_alt = if operator == ":+" { non_empty } else { set };
            if use_alt {
                expand(arg, vars, out, depth + 1)?;
            }
        }
        _ => {
            let ok = if operator == ":?" { non_empty } else { set };
            match value {
                Some(v) if ok => out.push_value(name, v)?,
                _ => {
                    return Err(Failure::Required {
                        name: name.to_string(),
                        message: arg.to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

fn split_operator(op: &str) -> Option<(&str, &str)> {
    if op.is_empty() {
        return Some(("", ""));
    }
    for o in [":-", ":?", ":+", "-", "?", "+"] {
        if let Some(arg) = op.strip_prefix(o) {
            return Some((o, arg));
        }
    }
    None
}

/// Interpolates every scalar value of the tree (one file) in place: each
/// value at most [`MAX_VALUE_BYTES`] long, all the interpolated values
/// together at most [`MAX_FILE_BYTES`].
pub(crate) fn interpolate_tree(
    ctx: &mut Ctx,
    node: &mut Node,
    path: &str,
    vars: &BTreeMap<String, String>,
) -> Result<(), ComposeError> {
    let mut budget = MAX_FILE_BYTES;
    walk(ctx, node, path, vars, &mut budget)
}

fn walk(
    ctx: &mut Ctx,
    node: &mut Node,
    path: &str,
    vars: &BTreeMap<String, String>,
    budget: &mut usize,
) -> Result<(), ComposeError> {
    match &mut node.kind {
        Kind::Null => Ok(()),
        Kind::Str(s) => {
            if !s.contains('$') {
                return Ok(());
            }
            let max = MAX_VALUE_BYTES.min(*budget);
            match interpolate(s, vars, max) {
                Ok(done) => {
                    *budget = budget.saturating_sub(done.text.len());
                    for name in done.unset {
                        let msg =
                            format!("variable {name} is not set: substituting an empty string");
                        ctx.warn(node.pos, path, msg);
                    }
                    *s = done.text;
                    Ok(())
                }
                Err(Failure::Required { name, message }) => {
                    let msg = if message.is_empty() {
                        format!("required variable {name} is not set")
                    } else {
                        format!("required variable {name} is not set: {message}")
                    };
                    Err(ctx.err(ComposeError::MissingVariable, node.pos, path, msg))
                }
                Err(Failure::Syntax(msg)) => Err(ctx.invalid(node.pos, path, msg)),
                Err(Failure::TooLong { name }) => {
                    let msg = if max == MAX_VALUE_BYTES {
                        format!(
                            "substituting variable {name} makes the value longer than \
                             {MAX_VALUE_BYTES} bytes"
                        )
                    } else {
                        format!(
                            "substituting variable {name} makes the file's interpolated \
                             values longer than {MAX_FILE_BYTES} bytes"
                        )
                    };
                    Err(ctx.err(ComposeError::ExceedLimit, node.pos, path, msg))
                }
            }
        }
        Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(ctx, item, &index(path, i), vars, budget)?;
            }
            Ok(())
        }
        Kind::Map(entries) => {
            for e in entries.iter_mut() {
                let p = join(path, &e.key);
                walk(ctx, &mut e.value, &p, vars, budget)?;
            }
            Ok(())
        }
    }
}

/// Names used as `$NAME` or `${NAME...}` anywhere in the text (`$$` skipped).
pub(crate) fn variable_names(text: &str, names: &mut BTreeSet<String>) {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '$' {
            continue;
        }
        match chars.peek() {
            Some((_, '$')) => {
                chars.next();
            }
            Some((_, '{')) => {
                let start = i + 2;
                let body = text.get(start..).unwrap_or("");
                let len = body.find(|c: char| !is_name_char(c)).unwrap_or(body.len());
                if body.starts_with(is_name_start) {
                    names.insert(body[..len].to_string());
                }
            }
            Some((_, c)) if is_name_start(*c) => {
                let body = text.get(i + 1..).unwrap_or("");
                let len = body.find(|c: char| !is_name_char(c)).unwrap_or(body.len());
                names.insert(body[..len].to_string());
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("A", "1"), ("EMPTY", ""), ("B", "two")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(s: &str) -> String {
        interpolate(s, &vars(), MAX_VALUE_BYTES).unwrap().text
    }

    #[test]
    fn every_form_expands() {
        assert_eq!(run("${A}-$B"), "1-two");
        assert_eq!(run("$$A and $$"), "$A and $");
        assert_eq!(run("${X:-def}"), "def");
        assert_eq!(run("${EMPTY:-def}"), "def");
        assert_eq!(run("${EMPTY-def}"), "");
        assert_eq!(run("${X-def}"), "def");
        assert_eq!(run("${A:-def}"), "1");
        assert_eq!(run("${X:-${B}x}"), "twox");
        assert_eq!(run("${A:+alt}${X:+alt}"), "alt");
        assert_eq!(run("cost $ 5"), "cost $ 5");
    }

    #[test]
    fn missing_variables_become_empty_and_are_reported() {
        let r = interpolate("a${NOPE}b$NOPE2", &vars(), MAX_VALUE_BYTES).unwrap();
        assert_eq!(r.text, "ab");
        assert_eq!(r.unset, vec!["NOPE".to_string(), "NOPE2".to_string()]);
    }

    #[test]
    fn required_variables_fail_with_their_message() {
        assert_eq!(
            interpolate("${X:?set X please}", &vars(), MAX_VALUE_BYTES).err(),
            Some(Failure::Required {
                name: "X".into(),
                message: "set X please".into()
            })
        );
        assert!(interpolate("${EMPTY:?}", &vars(), MAX_VALUE_BYTES).is_err());
        assert_eq!(
            interpolate("${EMPTY?}", &vars(), MAX_VALUE_BYTES)
                .unwrap()
                .text,
            ""
        );
    }

    #[test]
    fn malformed_templates_are_errors() {
        assert!(matches!(
            interpolate("${A", &vars(), MAX_VALUE_BYTES),
            Err(Failure::Syntax(_))
        ));
        assert!(matches!(
            interpolate("${}", &vars(), MAX_VALUE_BYTES),
            Err(Failure::Syntax(_))
        ));
        assert!(matches!(
            interpolate("${A*b}", &vars(), MAX_VALUE_BYTES),
            Err(Failure::Syntax(_))
        ));
    }

    #[test]
    fn output_past_the_bound_names_the_variable() {
        let big: BTreeMap<String, String> = [("BIG".to_string(), "x".repeat(1000))].into();
        assert_eq!(interpolate("$BIG", &big, 1000).unwrap().text.len(), 1000);
        for text in [
            "a$BIG",
            "${BIG}${BIG}",
            "${NO:-${BIG}.}x$BIG",
            "${BIG:?}!$BIG",
        ] {
            assert_eq!(
                interpolate(text, &big, 1000).err(),
                Some(Failure::TooLong { name: "BIG".into() }),
                "{text}"
            );
        }
    }

    fn tree_error(text: &str, vars: &BTreeMap<String, String>) -> ComposeError {
        let mut ctx = Ctx::new(vec!["f.yml".into()]);
        let mut node = crate::yaml::parse(&mut ctx, 0, text).unwrap().unwrap();
        interpolate_tree(&mut ctx, &mut node, "", vars).unwrap_err()
    }

    #[test]
    fn an_interpolated_value_is_bounded_naming_file_line_and_variable() {
        let vars: BTreeMap<String, String> =
            [("HALF".to_string(), "x".repeat(MAX_VALUE_BYTES / 2))].into();
        let err = tree_error("a: ok\nb:\n  c: ${HALF}${HALF}!${HALF}\n", &vars);
        assert!(matches!(err, ComposeError::ExceedLimit(_)), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "f.yml:3: b.c: substituting variable HALF makes the value longer than \
                 {MAX_VALUE_BYTES} bytes"
            )
        );
    }

    #[test]
    fn the_interpolated_values_of_a_file_are_bounded_together() {
        let vars: BTreeMap<String, String> =
            [("MIB".to_string(), "x".repeat(MAX_VALUE_BYTES))].into();
        let text: String = (1..=20).map(|i| format!("k{i}: $MIB\n")).collect();
        let err = tree_error(&text, &vars);
        assert!(matches!(err, ComposeError::ExceedLimit(_)), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "f.yml:17: k17: substituting variable MIB makes the file's interpolated \
                 values longer than {MAX_FILE_BYTES} bytes"
            )
        );
    }

    #[test]
    fn names_are_collected_without_escapes() {
        let mut n = BTreeSet::new();
        variable_names("${A:-${B}} $C $$D ${E?x} $", &mut n);
        assert_eq!(n.into_iter().collect::<Vec<_>>(), ["A", "B", "C", "E"]);
    }
}
