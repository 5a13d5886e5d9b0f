//! The parser: tokens to a tree of nodes, following the grammar of Go's
//! `text/template` (actions, pipelines, commands, operands).

use crate::ast::{Arg, ArgKind, Command, Control, Node, Pipeline, Tree};
use crate::error::PosError;
use crate::lexer::{Tok, Token};

/// How deeply control structures and parentheses may nest.
pub const MAX_NESTING: usize = 100;

/// What ended a list of nodes.
enum Stop {
    Eof,
    End(usize),
    Else(usize),
    ElseIf(usize),
    ElseWith(usize),
}

pub(crate) fn parse(toks: Vec<Token>, is_func: &dyn Fn(&str) -> bool) -> Result<Tree, PosError> {
    let mut p = Parser {
        toks,
        i: 0,
        vars: vec!["$".into()],
        depth: 0,
        in_range: 0,
        is_func,
        tree: Tree::default(),
    };
    let (root, end) = p.list(true)?;
    match end {
        Stop::Eof => {}
        Stop::End(pos) => return Err(PosError::new(pos, "unexpected {{end}}")),
        Stop::Else(pos) | Stop::ElseIf(pos) | Stop::ElseWith(pos) => {
            return Err(PosError::new(pos, "unexpected {{else}}"));
        }
    }
    p.tree.root = root;
    Ok(p.tree)
}

struct Parser<'f> {
    toks: Vec<Token>,
    i: usize,
    vars: Vec<String>,
    depth: usize,
    /// How many `range` bodies enclose the current position.
    in_range: usize,
    is_func: &'f dyn Fn(&str) -> bool,
    tree: Tree,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&Tok::Eof, |t| &t.kind)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.i + n).map_or(&Tok::Eof, |t| &t.kind)
    }

    fn pos(&self) -> usize {
        self.toks
            .get(self.i)
            .map_or_else(|| self.last_pos(), |t| t.pos)
    }

    fn last_pos(&self) -> usize {
        self.toks.last().map_or(0, |t| t.pos)
    }

    fn next(&mut self) -> Token {
        let t = self.toks.get(self.i).cloned().unwrap_or(Token {
            pos: self.last_pos(),
            kind: Tok::Eof,
            spaced: true,
        });
        self.i += 1;
        t
    }

    fn err<T>(&self, msg: impl Into<String>) -> Result<T, PosError> {
        Err(PosError::new(self.pos(), msg))
    }

    fn expect_right(&mut self, ctx: &str) -> Result<(), PosError> {
        match self.peek() {
            Tok::RightDelim => {
                self.i += 1;
                Ok(())
            }
            t => self.err(format!("unexpected {} in {ctx}", describe(t))),
        }
    }

    fn enter(&mut self) -> Result<(), PosError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err(format!("nesting deeper than {MAX_NESTING}"));
        }
        Ok(())
    }

    /// Parses nodes up to `{{end}}`, `{{else}}` or the end of input.
    fn list(&mut self, top: bool) -> Result<(Vec<Node>, Stop), PosError> {
        let mut nodes = Vec::new();
        loop {
            let tok = self.next();
            match tok.kind {
                Tok::Eof => return Ok((nodes, Stop::Eof)),
                Tok::Text(s) => nodes.push(Node::Text(tok.pos, s)),
                Tok::LeftDelim => {
                    if let Some(end) = self.action(&mut nodes, top, tok.pos)? {
                        return Ok((nodes, end));
                    }
                }
                t => {
                    return Err(PosError::new(
                        tok.pos,
                        format!("unexpected {}", describe(&t)),
                    ));
                }
            }
        }
    }

    /// Parses one action after its `{{`; returns the terminator if it is one.
    fn action(
        &mut self,
        nodes: &mut Vec<Node>,
        top: bool,
        open: usize,
    ) -> Result<Option<Stop>, PosError> {
        let pos = self.pos();
        let word = match self.peek() {
            Tok::Ident(w) => w.clone(),
            _ => {
                nodes.push(Node::Action(self.pipeline("command", false)?));
                return Ok(None);
            }
        };
        match word.as_str() {
            "end" => {
                self.i += 1;
                self.expect_right("end")?;
                Ok(Some(Stop::End(open)))
            }
            "else" => self.else_action(pos).map(Some),
            "if" | "range" | "with" => {
                self.i += 1;
                let node = self.control(&word)?;
                nodes.push(node);
                Ok(None)
            }
            "define" | "block" => {
                if word == "define" && !top {
                    return self.err("unexpected <define> in command");
                }
                self.i += 1;
                self.define(nodes, word == "block", open)?;
                Ok(None)
            }
            "template" => {
                self.i += 1;
                let (name, pipe) = self.template_header("template")?;
                nodes.push(Node::Template { pos, name, pipe });
                Ok(None)
            }
            "break" | "continue" => {
                if self.in_range == 0 {
                    return self.err(format!("{{{{{word}}}}} outside {{{{range}}}}"));
                }
                self.i += 1;
                self.expect_right(&word)?;
                nodes.push(if word == "break" {
                    Node::Break
                } else {
                    Node::Continue
                });
                Ok(None)
            }
            _ => {
                nodes.push(Node::Action(self.pipeline("command", false)?));
                Ok(None)
            }
        }
    }

    fn else_action(&mut self, pos: usize) -> Result<Stop, PosError> {
        self.i += 1;
        match self.peek() {
            Tok::Ident(w) if w == "if" => {
                self.i += 1;
                Ok(Stop::ElseIf(pos))
            }
            Tok::Ident(w) if w == "with" => {
                self.i += 1;
                Ok(Stop::ElseWith(pos))
            }
            _ => {
                self.expect_right("else")?;
                Ok(Stop::Else(pos))
            }
        }
    }

    /// `if`/`range`/`with` after the keyword, through the matching `{{end}}`.
    fn control(&mut self, kind: &str) -> Result<Node, PosError> {
        self.enter()?;
        let mark = self.vars.len();
        let pipe = self.pipeline(kind, kind == "range")?;
        let in_range = usize::from(kind == "range");
        self.in_range += in_range;
        let (body, end) = self.list(false)?;
        self.in_range -= in_range;
        let els = match end {
            Stop::Eof => return self.err(format!("unexpected EOF in {kind}")),
            Stop::End(_) => None,
            Stop::Else(_) => {
                let (els, end) = self.list(false)?;
                if !matches!(end, Stop::End(_)) {
                    return self.err(format!("expected end; found {}", describe(self.peek())));
                }
                Some(els)
            }
            Stop::ElseIf(pos) | Stop::ElseWith(pos) => {
                let nested = if matches!(end, Stop::ElseIf(_)) {
                    "if"
                } else {
                    "with"
                };
                if nested != kind {
                    return Err(PosError::new(
                        pos,
                        format!("unexpected else {nested} in {kind}"),
                    ));
                }
                // `{{else if x}}...{{end}}` is `{{else}}{{if x}}...{{end}}{{end}}`.
                Some(vec![self.control(nested)?])
            }
        };
        self.vars.truncate(mark);
        self.depth -= 1;
        let c = Control { pipe, body, els };
        Ok(match kind {
            "if" => Node::If(c),
            "range" => Node::Range(c),
            _ => Node::With(c),
        })
    }

    fn template_header(&mut self, ctx: &str) -> Result<(String, Option<Pipeline>), PosError> {
        let name = match self.next().kind {
            Tok::Str(s) => s,
            t => return self.err(format!("unexpected {} in {ctx} clause", describe(&t))),
        };
        if matches!(self.peek(), Tok::RightDelim) {
            self.i += 1;
            return Ok((name, None));
        }
        Ok((name, Some(self.pipeline(ctx, false)?)))
    }

    fn define(&mut self, nodes: &mut Vec<Node>, block: bool, open: usize) -> Result<(), PosError> {
        let pos = self.pos();
        let (name, pipe) = self.template_header(if block { "block" } else { "define" })?;
        if !block && pipe.is_some() {
            return Err(PosError::new(pos, "unexpected pipeline in define clause"));
        }
        self.enter()?;
        let saved = std::mem::replace(&mut self.vars, vec!["$".into()]);
        let saved_range = std::mem::take(&mut self.in_range);
        let (body, end) = self.list(false)?;
        self.vars = saved;
        self.in_range = saved_range;
        self.depth -= 1;
        if !matches!(end, Stop::End(_)) {
            return Err(PosError::new(open, "unexpected EOF or else in define"));
        }
        let empty = body
            .iter()
            .all(|n| matches!(n, Node::Text(_, t) if t.trim().is_empty()));
        if !empty || !self.tree.defines.contains_key(&name) {
            self.tree.defines.insert(name.clone(), body);
        }
        if block {
            nodes.push(Node::Template {
                pos: open,
                name,
                pipe,
            });
        }
        Ok(())
    }

    fn declarations(&mut self, allow_two: bool) -> (Vec<String>, bool) {
        let mut names = Vec::new();
        let save = self.i;
        while let Tok::Var(v) = self.peek().clone() {
            match self.peek_at(1) {
                Tok::Declare | Tok::Assign => {
                    let assign = matches!(self.peek_at(1), Tok::Assign);
                    self.i += 2;
                    names.push(v);
                    return (names, assign);
                }
                Tok::Comma if allow_two && names.is_empty() => {
                    names.push(v);
                    self.i += 2;
                }
                _ => break,
            }
        }
        self.i = save;
        (Vec::new(), false)
    }

    /// A pipeline through the closing `}}` (or `)` when in parentheses).
    fn pipeline(&mut self, ctx: &str, allow_two: bool) -> Result<Pipeline, PosError> {
        self.pipeline_until(ctx, allow_two, false)
    }

    fn pipeline_until(
        &mut self,
        ctx: &str,
        allow_two: bool,
        paren: bool,
    ) -> Result<Pipeline, PosError> {
        let pos = self.pos();
        let (decl, assign) = self.declarations(allow_two);
        for v in &decl {
            if assign && !self.vars.contains(v) {
                return self.err(format!("undefined variable \"{v}\""));
            }
        }
        let mut cmds = Vec::new();
        loop {
            let cpos = self.pos();
            let args = self.operands()?;
            let end = self.next();
            match end.kind {
                Tok::RightDelim if !paren => {}
                Tok::RParen if paren => {}
                Tok::Pipe => {}
                t => {
                    return Err(PosError::new(
                        end.pos,
                        format!("unexpected {} in {ctx}", describe(&t)),
                    ));
                }
            }
            if args.is_empty() {
                return Err(PosError::new(cpos, format!("missing value for {ctx}")));
            }
            cmds.push(Command { pos: cpos, args });
            if !matches!(end.kind, Tok::Pipe) {
                break;
            }
        }
        if !assign {
            self.vars.extend(decl.iter().cloned());
        }
        Ok(Pipeline {
            pos,
            decl,
            assign,
            cmds,
        })
    }

    fn operands(&mut self) -> Result<Vec<Arg>, PosError> {
        let mut args = Vec::new();
        while let Some(arg) = self.operand()? {
            args.push(arg);
            // Operands are separated by spaces: `"a""b"` and `1-1` are errors.
            let ends = |t: &&Token| {
                t.spaced || matches!(t.kind, Tok::RightDelim | Tok::RParen | Tok::Pipe | Tok::Eof)
            };
            if let Some(t) = self.toks.get(self.i).filter(|t| !ends(t)) {
                return self.err(format!("unexpected {} in operand", describe(&t.kind)));
            }
        }
        Ok(args)
    }

    /// Whether the next token is a field joined to the previous operand.
    fn joined_field(&self) -> bool {
        matches!(
            self.toks.get(self.i),
            Some(Token {
                kind: Tok::Field(_),
                spaced: false,
                ..
            })
        )
    }

    fn fields(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while self.joined_field() {
            if let Tok::Field(f) = self.peek() {
                out.push(f.clone());
            }
            self.i += 1;
        }
        out
    }

    fn operand(&mut self) -> Result<Option<Arg>, PosError> {
        let pos = self.pos();
        let kind = match self.peek().clone() {
            Tok::Dot => ArgKind::Dot,
            Tok::Nil => ArgKind::Nil,
            Tok::Bool(b) => ArgKind::Bool(b),
            Tok::Str(s) => ArgKind::Str(s),
            Tok::Char(c) => ArgKind::Int(i64::from(u32::from(c))),
            Tok::Number(n) => parse_number(&n)
                .ok_or_else(|| PosError::new(pos, format!("bad number syntax: {n:?}")))?,
            Tok::Field(f) => {
                self.i += 1;
                let mut chain = vec![f];
                chain.extend(self.fields());
                return Ok(Some(Arg {
                    pos,
                    kind: ArgKind::Field(chain),
                }));
            }
            Tok::Var(v) => {
                if !self.vars.contains(&v) {
                    return self.err(format!("undefined variable \"{v}\""));
                }
                self.i += 1;
                return Ok(Some(Arg {
                    pos,
                    kind: ArgKind::Var(v, self.fields()),
                }));
            }
            Tok::Ident(name) => {
                if !(self.is_func)(&name) {
                    return self.err(format!("function \"{name}\" not defined"));
                }
                ArgKind::Func(name)
            }
            Tok::LParen => {
                self.i += 1;
                self.enter()?;
                let pipe = self.pipeline_until("parenthesized pipeline", false, true)?;
                self.depth -= 1;
                return Ok(Some(Arg {
                    pos,
                    kind: ArgKind::Pipe(Box::new(pipe), self.fields()),
                }));
            }
            _ => return Ok(None),
        };
        self.i += 1;
        if self.joined_field() {
            return self.err("unexpected . after term");
        }
        Ok(Some(Arg { pos, kind }))
    }
}

/// Go number syntax: decimal, hex, octal and binary ints; floats.
fn parse_number(text: &str) -> Option<ArgKind> {
    let clean = text.replace('_', "");
    let (neg, body) = match clean.as_bytes().first() {
        Some(b'-') => (true, &clean[1..]),
        Some(b'+') => (false, &clean[1..]),
        _ => (false, clean.as_str()),
    };
    let lower = body.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.bytes().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else {
        lower.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(ArgKind::Int(if neg { -i } else { i }));
    }
    if lower.starts_with("0x") || lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    Some(ArgKind::Float(if neg { -f } else { f }))
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Text(_) => "text".into(),
        Tok::LeftDelim => "\"{{\"".into(),
        Tok::RightDelim => "\"}}\"".into(),
        Tok::Ident(w) => format!("<{w}>"),
        Tok::Field(f) => format!("<.{f}>"),
        Tok::Var(v) => format!("<{v}>"),
        Tok::Dot => "<.>".into(),
        Tok::Str(s) => format!("{s:?}"),
        Tok::Char(c) => format!("{c:?}"),
        Tok::Number(n) => format!("<{n}>"),
        Tok::Bool(b) => format!("<{b}>"),
        Tok::Nil => "<nil>".into(),
        Tok::LParen => "\"(\"".into(),
        Tok::RParen => "\")\"".into(),
        Tok::Pipe => "\"|\"".into(),
        Tok::Declare => "\":=\"".into(),
        Tok::Assign => "\"=\"".into(),
        Tok::Comma => "\",\"".into(),
        Tok::Eof => "EOF".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexer::lex;

    fn tree(src: &str) -> Result<Tree, PosError> {
        parse(lex(src)?, &|n| n == "eq" || n == "printf")
    }

    #[test]
    fn numbers_follow_go_syntax() {
        assert!(matches!(parse_number("0x1F"), Some(ArgKind::Int(31))));
        assert!(matches!(parse_number("017"), Some(ArgKind::Int(15))));
        assert!(matches!(parse_number("-1_000"), Some(ArgKind::Int(-1000))));
        assert!(matches!(parse_number("1.5e3"), Some(ArgKind::Float(f)) if f == 1500.0));
        assert!(parse_number("1x").is_none());
    }

    #[test]
    fn unknown_functions_and_variables_fail_at_parse_time() {
        assert_eq!(tree("a\n {{ foo }}").err().map(|e| e.pos), Some(6));
        assert!(tree("{{ $x }}").is_err());
        assert!(tree("{{ $x := 1 }}{{ $x }}").is_ok());
        assert!(tree("{{ if 1 }}{{ $y := 1 }}{{ end }}{{ $y }}").is_err());
    }

    #[test]
    fn unbalanced_structure_is_an_error() {
        for bad in [
            "{{ break }}",
            "{{ range 1 }}{{ end }}{{ continue }}",
            "{{ end }}",
            "{{ if 1 }}",
            "{{ else }}",
            "{{ range }}{{ end }}",
            "{{ (1 }}",
            "{{ 1 | }}",
        ] {
            assert!(tree(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "{{ if 1 }}".repeat(MAX_NESTING + 1) + &"{{ end }}".repeat(MAX_NESTING + 1);
        assert!(tree(&deep).is_err());
        let parens = "{{ ".to_string() + &"(".repeat(500) + "1" + &")".repeat(500) + " }}";
        assert!(tree(&parens).is_err());
    }
}
