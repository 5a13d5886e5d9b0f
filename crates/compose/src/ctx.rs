//! The conversion context: file names for messages, and the warnings collected.

use crate::error::{ComposeError, Diagnostic};
use crate::value::Pos;

/// Builds a [`ComposeError`] variant from its diagnostic.
pub(crate) type ErrorKind = fn(Diagnostic) -> ComposeError;

pub(crate) struct Ctx {
    /// Names of the input files, indexed by [`Pos::file`].
    pub files: Vec<String>,
    pub warnings: Vec<Diagnostic>,
}

impl Ctx {
    pub fn new(files: Vec<String>) -> Self {
        Ctx {
            files,
            warnings: Vec::new(),
        }
    }

    pub fn diagnostic(&self, pos: Pos, key: &str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            file: self.files.get(pos.file).cloned().unwrap_or_default(),
            line: pos.line,
            key: if key.is_empty() {
                "(root)".to_string()
            } else {
                key.to_string()
            },
            message: message.into(),
        }
    }

    pub fn warn(&mut self, pos: Pos, key: &str, message: impl Into<String>) {
        let d = self.diagnostic(pos, key, message);
        self.warnings.push(d);
    }

    /// A warning that the key is ignored, with the reason.
    pub fn ignored(&mut self, pos: Pos, key: &str, why: &str) {
        self.warn(pos, key, format!("ignored: {why}"));
    }

    pub fn err(
        &self,
        kind: ErrorKind,
        pos: Pos,
        key: &str,
        message: impl Into<String>,
    ) -> ComposeError {
        kind(self.diagnostic(pos, key, message))
    }

    pub fn invalid(&self, pos: Pos, key: &str, message: impl Into<String>) -> ComposeError {
        self.err(ComposeError::InvalidValue, pos, key, message)
    }

    pub fn unsupported(&self, pos: Pos, key: &str, message: impl Into<String>) -> ComposeError {
        self.err(ComposeError::UnsupportedKey, pos, key, message)
    }

    pub fn unknown(&self, pos: Pos, key: &str) -> ComposeError {
        self.err(ComposeError::UnknownKey, pos, key, "unknown key")
    }
}

/// `parent.key`, or `key` at the top.
pub(crate) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
pub(crate) fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}
