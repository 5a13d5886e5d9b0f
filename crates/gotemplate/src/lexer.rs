//! Splits a template into text and the tokens of its actions, applying the
//! trim markers (`{{- ` and ` -}}`) and dropping comments.

use crate::error::PosError;

/// One token, with the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub pos: usize,
    pub kind: Tok,
    /// Whether whitespace separates this token from the previous one
    /// (`$x.a` is one operand, `$x .a` two).
    pub spaced: bool,
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Text(String),
    LeftDelim,
    RightDelim,
    /// An identifier: a function name or a keyword.
    Ident(String),
    /// `.Name` (one link of a field chain).
    Field(String),
    /// `$` or `$name`.
    Var(String),
    Dot,
    Str(String),
    Char(char),
    Number(String),
    Bool(bool),
    Nil,
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
    Eof,
}

const LEFT: &str = "{{";
const RIGHT: &str = "}}";

/// Tokenises `src`.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, PosError> {
    let mut lx = Lexer {
        src,
        pos: 0,
        toks: Vec::new(),
        trim_next: false,
        spaced: true,
    };
    lx.run()?;
    Ok(lx.toks)
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    toks: Vec<Token>,
    trim_next: bool,
    spaced: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    fn run(&mut self) -> Result<(), PosError> {
        loop {
            let start = self.pos;
            let next = self
                .rest()
                .find(LEFT)
                .map_or(self.src.len(), |i| self.pos + i);
            let mut text = &self.src[start..next];
            if self.trim_next {
                text = text.trim_start_matches(is_space);
                self.trim_next = false;
            }
            if next == self.src.len() {
                self.push_text(start, text);
                self.toks.push(Token {
                    pos: self.src.len(),
                    kind: Tok::Eof,
                    spaced: true,
                });
                return Ok(());
            }
            // A left trim marker is "{{- " (the dash followed by a space).
            let after = &self.src[next + LEFT.len()..];
            let trim_left = after.starts_with('-') && after[1..].starts_with(is_space);
            if trim_left {
                text = text.trim_end_matches(is_space);
            }
            self.push_text(start, text);
            self.pos = next + LEFT.len() + if trim_left { 2 } else { 0 };
            if self.comment_ahead() {
                self.lex_comment(next)?;
            } else {
                self.toks.push(Token {
                    pos: next,
                    kind: Tok::LeftDelim,
                    spaced: true,
                });
                self.spaced = true;
                self.lex_action()?;
            }
        }
    }

    fn push_text(&mut self, pos: usize, text: &str) {
        if !text.is_empty() {
            self.toks.push(Token {
                pos,
                kind: Tok::Text(text.to_string()),
                spaced: true,
            });
        }
    }

    fn comment_ahead(&self) -> bool {
        self.rest().starts_with("/*")
    }

    fn lex_comment(&mut self, open: usize) -> Result<(), PosError> {
        self.pos += 2;
        let Some(end) = self.rest().find("*/") else {
            return Err(PosError::new(open, "unclosed comment"));
        };
        self.pos += end + 2;
        self.close_delim(open, "comment ends before closing delimiter")
    }

    /// At a right delimiter (with or without its trim marker): consumes it.
    fn close_delim(&mut self, open: usize, msg: &str) -> Result<(), PosError> {
        let rest = self.rest();
        let spaces = rest.len() - rest.trim_start_matches(is_space).len();
        let after = &rest[spaces..];
        if spaces > 0 && after.starts_with("-}}") {
            self.pos += spaces + 3;
            self.trim_next = true;
            Ok(())
        } else if rest.starts_with(RIGHT) {
            self.pos += 2;
            Ok(())
        } else {
            Err(PosError::new(open, msg))
        }
    }

    fn tok(&mut self, pos: usize, kind: Tok) {
        self.toks.push(Token {
            pos,
            kind,
            spaced: self.spaced,
        });
        self.spaced = false;
    }

    fn lex_action(&mut self) -> Result<(), PosError> {
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return Err(PosError::new(self.pos, "unclosed action"));
            };
            let start = self.pos;
            if is_space(c) {
                let trimmed = rest.trim_start_matches(is_space);
                if trimmed.starts_with("-}}") {
                    self.close_delim(start, "unclosed action")?;
                    self.tok(start, Tok::RightDelim);
                    return Ok(());
                }
                self.pos += rest.len() - trimmed.len();
                self.spaced = true;
                continue;
            }
            if rest.starts_with(RIGHT) {
                self.pos += 2;
                self.tok(start, Tok::RightDelim);
                return Ok(());
            }
            self.lex_token(c, start)?;
        }
    }

    fn lex_token(&mut self, c: char, start: usize) -> Result<(), PosError> {
        let rest = self.rest();
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '|' => Some(Tok::Pipe),
            ',' => Some(Tok::Comma),
            '=' => Some(Tok::Assign),
            _ => None,
        };
        if let Some(kind) = simple {
            self.pos += 1;
            self.tok(start, kind);
            return Ok(());
        }
        if rest.starts_with(":=") {
            self.pos += 2;
            self.tok(start, Tok::Declare);
            return Ok(());
        }
        match c {
            '"' => self.lex_quote(start),
            '`' => self.lex_raw(start),
            '\'' => self.lex_char(start),
            '$' => {
                let n = word_len(&rest[1..]);
                self.pos += 1 + n;
                self.tok(start, Tok::Var(rest[..1 + n].to_string()));
                Ok(())
            }
            '.' if rest[1..].starts_with(|c: char| c.is_ascii_digit()) => self.lex_number(start),
            '.' => {
                let n = word_len(&rest[1..]);
                self.pos += 1 + n;
                let kind = if n == 0 {
                    Tok::Dot
                } else {
                    Tok::Field(rest[1..1 + n].to_string())
                };
                self.tok(start, kind);
                Ok(())
            }
            '0'..='9' => self.lex_number(start),
            '+' | '-' if rest[1..].starts_with(|c: char| c.is_ascii_digit() || c == '.') => {
                self.lex_number(start)
            }
            c if c.is_alphabetic() || c == '_' => {
                let n = word_len(rest);
                let word = &rest[..n];
                self.pos += n;
                let kind = match word {
                    "true" => Tok::Bool(true),
                    "false" => Tok::Bool(false),
                    "nil" => Tok::Nil,
                    w => Tok::Ident(w.to_string()),
                };
                self.tok(start, kind);
                Ok(())
            }
            c => Err(PosError::new(start, format!("unexpected {c:?} in command"))),
        }
    }

    fn lex_number(&mut self, start: usize) -> Result<(), PosError> {
        let rest = self.rest();
        let mut n = 0;
        let b = rest.as_bytes();
        if matches!(b.first(), Some(b'+' | b'-')) {
            n = 1;
        }
        while n < b.len() {
            let ch = b[n];
            let exp_sign =
                matches!(ch, b'+' | b'-') && n > 0 && matches!(b[n - 1], b'e' | b'E' | b'p' | b'P');
            if ch.is_ascii_alphanumeric() || ch == b'.' || ch == b'_' || exp_sign {
                n += 1;
            } else {
                break;
            }
        }
        self.pos += n;
        self.tok(start, Tok::Number(rest[..n].to_string()));
        Ok(())
    }

    fn lex_raw(&mut self, start: usize) -> Result<(), PosError> {
        let rest = &self.rest()[1..];
        let Some(end) = rest.find('`') else {
            return Err(PosError::new(start, "unterminated raw quoted string"));
        };
        let s = rest[..end].replace('\r', "");
        self.pos += end + 2;
        self.tok(start, Tok::Str(s));
        Ok(())
    }

    fn lex_quote(&mut self, start: usize) -> Result<(), PosError> {
        let (s, len) = unquote(&self.rest()[1..], '"')
            .ok_or_else(|| PosError::new(start, "unterminated quoted string"))?;
        self.pos += len + 1;
        self.tok(start, Tok::Str(s));
        Ok(())
    }

    fn lex_char(&mut self, start: usize) -> Result<(), PosError> {
        let (s, len) = unquote(&self.rest()[1..], '\'')
            .ok_or_else(|| PosError::new(start, "unterminated character constant"))?;
        let mut chars = s.chars();
        let (Some(c), None) = (chars.next(), chars.next()) else {
            return Err(PosError::new(start, "malformed character constant"));
        };
        self.pos += len + 1;
        self.tok(start, Tok::Char(c));
        Ok(())
    }
}

fn word_len(s: &str) -> usize {
    s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len())
}

/// Reads a Go-quoted string body up to `quote`; returns the value and the
/// number of bytes consumed including the closing quote.
fn unquote(s: &str, quote: char) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut it = s.char_indices();
    while let Some((i, c)) = it.next() {
        match c {
            '\n' => return None,
            c if c == quote => return Some((out, i + 1)),
            '\\' => {
                let (_, e) = it.next()?;
                let simple = match e {
                    'a' => Some('\x07'),
                    'b' => Some('\x08'),
                    'f' => Some('\x0c'),
                    'n' => Some('\n'),
                    'r' => Some('\r'),
                    't' => Some('\t'),
                    'v' => Some('\x0b'),
                    '\\' | '"' | '\'' => Some(e),
                    _ => None,
                };
                if let Some(ch) = simple {
                    out.push(ch);
                    continue;
                }
                let digits = match e {
                    'x' => 2,
                    'u' => 4,
                    'U' => 8,
                    '0'..='7' => 2,
                    _ => return None,
                };
                let mut code = String::new();
                if e.is_ascii_digit() {
                    code.push(e);
                }
                for _ in 0..digits {
                    code.push(it.next()?.1);
                }
                let radix = if e.is_ascii_digit() { 8 } else { 16 };
                out.push(char::from_u32(u32::from_str_radix(&code, radix).ok()?)?);
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src)
            .map(|t| t.into_iter().map(|t| t.kind).collect())
            .unwrap_or_default()
    }

    #[test]
    fn trim_markers_eat_surrounding_whitespace() {
        assert_eq!(
            kinds("a \n{{- 1 -}}\n b"),
            vec![
                Tok::Text("a".into()),
                Tok::LeftDelim,
                Tok::Number("1".into()),
                Tok::RightDelim,
                Tok::Text("b".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn a_dash_without_space_is_a_negative_number() {
        assert_eq!(kinds("{{-3}}")[1], Tok::Number("-3".into()));
    }

    #[test]
    fn comments_vanish_and_may_trim() {
        assert_eq!(
            kinds("a {{- /* x }} */ -}} b"),
            vec![Tok::Text("a".into()), Tok::Text("b".into()), Tok::Eof]
        );
        assert_eq!(kinds("{{/* x */}}"), vec![Tok::Eof]);
        assert!(lex("{{/* x */ 1}}").is_err());
        assert!(lex("{{/* x").is_err());
    }

    #[test]
    fn fields_variables_and_strings_are_tokens() {
        assert_eq!(
            kinds(r#"{{$x := .A.b "q\"\n" `r}}`}}"#)[1..7],
            [
                Tok::Var("$x".into()),
                Tok::Declare,
                Tok::Field("A".into()),
                Tok::Field("b".into()),
                Tok::Str("q\"\n".into()),
                Tok::Str("r}}".into())
            ]
        );
    }

    #[test]
    fn unclosed_action_is_an_error() {
        assert!(lex("{{ if").is_err());
        assert!(lex("{{ \"abc }}").is_err());
    }
}
