//! Errors that name the template and the place in it.

use std::fmt;

/// A parse or execution error. Displays as `NAME:LINE:COL: message`
/// (line and column 1-based, the column counted in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The template's name, as given to [`crate::parse`] or [`crate::render`].
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.name, self.line, self.col, self.message
        )
    }
}

impl std::error::Error for TemplateError {}

/// An error before its place is known as a line and column: a byte offset
/// into the source and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PosError {
    pub pos: usize,
    pub message: String,
}

impl PosError {
    pub fn new(pos: usize, message: impl Into<String>) -> Self {
        PosError {
            pos,
            message: message.into(),
        }
    }

    /// Resolves the byte offset against `source`.
    pub fn locate(self, name: &str, source: &str) -> TemplateError {
        let (line, col) = line_col(source, self.pos);
        TemplateError {
            name: name.to_string(),
            line,
            col,
            message: self.message,
        }
    }
}

/// 1-based line and column (in characters) of byte offset `pos`.
pub(crate) fn line_col(source: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(source.len());
    while !source.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &source[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_character_columns() {
        let src = "ab\ncé{{x";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 3), (2, 1));
        assert_eq!(line_col(src, 6), (2, 3));
        assert_eq!(line_col(src, 999), (2, 6));
    }

    #[test]
    fn display_is_name_line_col_message() {
        let e = PosError::new(3, "boom").locate("t.tpl", "ab\ncd");
        assert_eq!(e.to_string(), "t.tpl:2:1: boom");
    }
}
