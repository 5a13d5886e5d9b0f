//! A YAML value tree whose nodes know their file and line. Every scalar is
//! kept as the string it was written as: Compose types values by key, after
//! interpolation, so `"8080:80"`, `0755` and `yes` stay what the user wrote.

use crate::ctx::{Ctx, index};
use crate::error::ComposeError;

/// A place in the input: an index into the file list and a 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Pos {
    pub file: usize,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// `~`, `null`, or nothing at all.
    Null,
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    pub key: String,
    /// Where the key is written.
    pub pos: Pos,
    pub value: Node,
}

impl Node {
    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    pub fn what(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Str(_) => "a scalar",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The entry named `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        match &self.kind {
            Kind::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    pub fn str(&self, ctx: &Ctx, key: &str) -> Result<&str, ComposeError> {
        match &self.kind {
            Kind::Str(s) => Ok(s),
            _ => Err(ctx.invalid(
                self.pos,
                key,
                format!("expected a string, found {}", self.what()),
            )),
        }
    }

    /// A scalar, or `None` for null.
    pub fn opt_str(&self, ctx: &Ctx, key: &str) -> Result<Option<&str>, ComposeError> {
        match &self.kind {
            Kind::Null => Ok(None),
            _ => self.str(ctx, key).map(Some),
        }
    }

    pub fn map(&self, ctx: &Ctx, key: &str) -> Result<&[Entry], ComposeError> {
        match &self.kind {
            Kind::Map(entries) => Ok(entries),
            Kind::Null => Ok(&[]),
            _ => Err(ctx.invalid(
                self.pos,
                key,
                format!("expected a mapping, found {}", self.what()),
            )),
        }
    }

    pub fn seq(&self, ctx: &Ctx, key: &str) -> Result<&[Node], ComposeError> {
        match &self.kind {
            Kind::Seq(items) => Ok(items),
            Kind::Null => Ok(&[]),
            _ => Err(ctx.invalid(
                self.pos,
                key,
                format!("expected a list, found {}", self.what()),
            )),
        }
    }

    pub fn bool(&self, ctx: &Ctx, key: &str) -> Result<bool, ComposeError> {
        let s = self.str(ctx, key)?;
        parse_bool(s)
            .ok_or_else(|| ctx.invalid(self.pos, key, format!("{s:?} is not true or false")))
    }

    pub fn u64(&self, ctx: &Ctx, key: &str) -> Result<u64, ComposeError> {
        let s = self.str(ctx, key)?;
        s.trim()
            .parse::<u64>()
            .map_err(|_| ctx.invalid(self.pos, key, format!("{s:?} is not a whole number")))
    }

    pub fn u32(&self, ctx: &Ctx, key: &str) -> Result<u32, ComposeError> {
        let n = self.u64(ctx, key)?;
        u32::try_from(n).map_err(|_| ctx.invalid(self.pos, key, format!("{n} is too large")))
    }

    pub fn i64(&self, ctx: &Ctx, key: &str) -> Result<i64, ComposeError> {
        let s = self.str(ctx, key)?;
        s.trim()
            .parse::<i64>()
            .map_err(|_| ctx.invalid(self.pos, key, format!("{s:?} is not a whole number")))
    }

    /// A string or a list of strings (`cap_add: NET_ADMIN` or `[NET_ADMIN]`).
    pub fn strings(&self, ctx: &Ctx, key: &str) -> Result<Vec<String>, ComposeError> {
        match &self.kind {
            Kind::Str(s) => Ok(vec![s.clone()]),
            Kind::Null => Ok(Vec::new()),
            Kind::Seq(items) => items
                .iter()
                .enumerate()
                .map(|(i, n)| n.str(ctx, &index(key, i)).map(str::to_string))
                .collect(),
            Kind::Map(_) => {
                Err(ctx.invalid(self.pos, key, "expected a string or a list of strings"))
            }
        }
    }
}

/// YAML 1.1 and 1.2 spellings of booleans, as Compose accepts them.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" => Some(true),
        "false" | "no" | "off" | "n" => Some(false),
        _ => None,
    }
}
