//! The evaluator: walks the parse tree against the data, with bounds on
//! output size, work and template recursion.

use crate::ast::{Arg, ArgKind, Command, Control, Node, Pipeline, Tree};
use crate::error::PosError;
use crate::funcs::{self, FnError};
use crate::value::{Value, weigh};

/// Output beyond this many bytes is an error.
pub const MAX_OUTPUT: usize = 16 * 1024 * 1024;
/// Evaluation steps (nodes and commands) beyond this many are an error.
pub const MAX_STEPS: u64 = 5_000_000;
/// A value built or copied during execution may not weigh more than this
/// (one per list or map element, one per 16 bytes of string).
pub const MAX_VALUE_WEIGHT: u64 = 2_000_000;
/// `{{template}}` calls nested deeper than this are an error.
pub const MAX_TEMPLATE_DEPTH: usize = 100;

type R<T> = Result<T, PosError>;

enum Flow {
    Normal,
    Break,
    Continue,
}

pub(crate) struct Exec<'t> {
    tree: &'t Tree,
    vars: Vec<(String, Value)>,
    out: String,
    depth: usize,
    steps: u64,
}

/// Runs `nodes` with `data` as dot and `$`.
pub(crate) fn execute(tree: &Tree, nodes: &[Node], data: &Value) -> R<String> {
    let mut ex = Exec {
        tree,
        vars: vec![("$".into(), data.clone())],
        out: String::new(),
        depth: 0,
        steps: 0,
    };
    ex.walk(data, nodes)?;
    Ok(ex.out)
}

impl Exec<'_> {
    fn step(&mut self, pos: usize) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(PosError::new(
                pos,
                format!("template execution exceeded {MAX_STEPS} steps"),
            ));
        }
        Ok(())
    }

    /// Charges the copying of `v` to the step budget, and refuses values
    /// over [`MAX_VALUE_WEIGHT`].
    fn charge(&mut self, v: &Value, pos: usize) -> R<()> {
        let left = MAX_STEPS.saturating_sub(self.steps).min(MAX_VALUE_WEIGHT);
        let w = weigh(v, left);
        if w > MAX_VALUE_WEIGHT {
            return Err(PosError::new(
                pos,
                format!("value exceeds the size limit ({MAX_VALUE_WEIGHT})"),
            ));
        }
        self.steps += w;
        if self.steps > MAX_STEPS {
            return Err(PosError::new(
                pos,
                format!("template execution exceeded {MAX_STEPS} steps"),
            ));
        }
        Ok(())
    }

    fn write(&mut self, pos: usize, s: &str) -> R<()> {
        if self.out.len() + s.len() > MAX_OUTPUT {
            return Err(PosError::new(
                pos,
                format!("output exceeds {MAX_OUTPUT} bytes"),
            ));
        }
        self.out.push_str(s);
        Ok(())
    }

    fn walk(&mut self, dot: &Value, nodes: &[Node]) -> R<Flow> {
        for node in nodes {
            match self.node(dot, node)? {
                Flow::Normal => {}
                flow => return Ok(flow),
            }
        }
        Ok(Flow::Normal)
    }

    fn node(&mut self, dot: &Value, node: &Node) -> R<Flow> {
        match node {
            Node::Text(pos, t) => self.write(*pos, t)?,
            Node::Action(pipe) => {
                self.step(pipe.pos)?;
                let v = self.pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    let text = match v {
                        Value::Null => "<no value>".to_string(),
                        v => v.to_string(),
                    };
                    self.write(pipe.pos, &text)?;
                }
            }
            Node::If(c) => return self.if_or_with(dot, c, false),
            Node::With(c) => return self.if_or_with(dot, c, true),
            Node::Range(c) => return self.range(dot, c),
            Node::Template { pos, name, pipe } => self.template(dot, *pos, name, pipe.as_ref())?,
            Node::Break => return Ok(Flow::Break),
            Node::Continue => return Ok(Flow::Continue),
        }
        Ok(Flow::Normal)
    }

    fn if_or_with(&mut self, dot: &Value, c: &Control, with: bool) -> R<Flow> {
        self.step(c.pipe.pos)?;
        let mark = self.vars.len();
        let v = self.pipeline(dot, &c.pipe)?;
        let flow = if v.truthy() {
            let new_dot = if with { &v } else { dot };
            self.walk(new_dot, &c.body)?
        } else if let Some(els) = &c.els {
            self.walk(dot, els)?
        } else {
            Flow::Normal
        };
        self.vars.truncate(mark);
        Ok(flow)
    }

    fn range(&mut self, dot: &Value, c: &Control) -> R<Flow> {
        self.step(c.pipe.pos)?;
        let v = self.pipeline_raw(dot, &c.pipe)?;
        let (len, items): (usize, Box<dyn Iterator<Item = (Value, Value)>>) = match v {
            Value::Null => (0, Box::new(std::iter::empty())),
            Value::List(l) => (
                l.len(),
                Box::new(
                    l.into_iter()
                        .enumerate()
                        .map(|(i, v)| (Value::Int(i as i64), v)),
                ),
            ),
            Value::Map(m) => (
                m.len(),
                Box::new(m.into_iter().map(|(k, v)| (Value::String(k), v))),
            ),
            Value::Int(n) => {
                if c.pipe.decl.len() > 1 {
                    return Err(PosError::new(
                        c.pipe.pos,
                        "can't use two variables to iterate over int",
                    ));
                }
                let n = n.max(0);
                (
                    usize::try_from(n).unwrap_or(usize::MAX),
                    Box::new((0..n).map(|i| (Value::Int(i), Value::Int(i)))),
                )
            }
            other => {
                return Err(PosError::new(
                    c.pipe.pos,
                    format!("range can't iterate over {other}"),
                ));
            }
        };
        if len == 0 {
            return match &c.els {
                Some(els) => self.walk(dot, els),
                None => Ok(Flow::Normal),
            };
        }
        for (key, elem) in items {
            self.step(c.pipe.pos)?;
            let mark = self.vars.len();
            match c.pipe.decl.as_slice() {
                [] => {}
                [v] => self.bind(&c.pipe, v, elem.clone())?,
                [k, v, ..] => {
                    self.bind(&c.pipe, k, key)?;
                    self.bind(&c.pipe, v, elem.clone())?;
                }
            }
            let flow = self.walk(&elem, &c.body)?;
            self.vars.truncate(mark);
            if matches!(flow, Flow::Break) {
                break;
            }
        }
        Ok(Flow::Normal)
    }

    fn template(&mut self, dot: &Value, pos: usize, name: &str, pipe: Option<&Pipeline>) -> R<()> {
        self.step(pos)?;
        let tree = self.tree;
        let Some(body) = tree.defines.get(name) else {
            return Err(PosError::new(pos, format!("no such template \"{name}\"")));
        };
        let new_dot = match pipe {
            Some(p) => self.pipeline(dot, p)?,
            None => Value::Null,
        };
        if self.depth >= MAX_TEMPLATE_DEPTH {
            return Err(PosError::new(
                pos,
                format!("exceeded maximum template depth ({MAX_TEMPLATE_DEPTH})"),
            ));
        }
        self.depth += 1;
        let saved = std::mem::replace(&mut self.vars, vec![("$".into(), new_dot.clone())]);
        let result = self.walk(&new_dot, body);
        self.vars = saved;
        self.depth -= 1;
        result.map(|_| ())
    }

    /// Declares (`:=`) or assigns (`=`) variable `name`.
    fn bind(&mut self, pipe: &Pipeline, name: &str, v: Value) -> R<()> {
        if !pipe.assign {
            self.vars.push((name.to_string(), v));
            return Ok(());
        }
        match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
            Some(slot) => {
                slot.1 = v;
                Ok(())
            }
            None => Err(PosError::new(
                pipe.pos,
                format!("undefined variable: {name}"),
            )),
        }
    }

    /// Evaluates a pipeline and binds its variables.
    fn pipeline(&mut self, dot: &Value, pipe: &Pipeline) -> R<Value> {
        let v = self.pipeline_raw(dot, pipe)?;
        if let Some(name) = pipe.decl.first() {
            self.bind(pipe, name, v.clone())?;
        }
        Ok(v)
    }

    fn pipeline_raw(&mut self, dot: &Value, pipe: &Pipeline) -> R<Value> {
        let mut last: Option<Value> = None;
        for cmd in &pipe.cmds {
            self.step(cmd.pos)?;
            last = Some(self.command(dot, cmd, last)?);
        }
        Ok(last.unwrap_or_default())
    }

    fn command(&mut self, dot: &Value, cmd: &Command, piped: Option<Value>) -> R<Value> {
        let Some(first) = cmd.args.first() else {
            return Err(PosError::new(cmd.pos, "empty command"));
        };
        match &first.kind {
            ArgKind::Func(name) => self.call(dot, first.pos, name, &cmd.args[1..], piped),
            ArgKind::Nil => Err(PosError::new(first.pos, "nil is not a command")),
            _ if cmd.args.len() > 1 || piped.is_some() => Err(PosError::new(
                first.pos,
                format!("can't give argument to non-function {}", describe(first)),
            )),
            _ => self.arg(dot, first),
        }
    }

    fn call(
        &mut self,
        dot: &Value,
        pos: usize,
        name: &str,
        args: &[Arg],
        piped: Option<Value>,
    ) -> R<Value> {
        if name == "and" || name == "or" {
            return self.and_or(dot, pos, name == "and", args, piped);
        }
        let mut vals = Vec::with_capacity(args.len() + 1);
        for a in args {
            vals.push(self.arg(dot, a)?);
        }
        vals.extend(piped);
        let f = funcs::lookup(name)
            .ok_or_else(|| PosError::new(pos, format!("function \"{name}\" not defined")))?;
        let v = f(&vals).map_err(|e| match e {
            FnError::Arity(m) => {
                PosError::new(pos, format!("wrong number of args for {name}: {m}"))
            }
            FnError::Arg(m) => PosError::new(pos, m),
            FnError::Call(m) => PosError::new(pos, format!("error calling {name}: {m}")),
        })?;
        self.charge(&v, pos)?;
        Ok(v)
    }

    /// `and`/`or`: the first falsy (truthy) argument, or the last; later
    /// arguments are not evaluated.
    fn and_or(
        &mut self,
        dot: &Value,
        pos: usize,
        and: bool,
        args: &[Arg],
        piped: Option<Value>,
    ) -> R<Value> {
        let total = args.len() + usize::from(piped.is_some());
        if total == 0 {
            let name = if and { "and" } else { "or" };
            return Err(PosError::new(
                pos,
                format!("wrong number of args for {name}: want at least 1 got 0"),
            ));
        }
        let mut last = Value::Null;
        for a in args {
            last = self.arg(dot, a)?;
            if last.truthy() != and {
                return Ok(last);
            }
        }
        Ok(piped.unwrap_or(last))
    }

    fn arg(&mut self, dot: &Value, arg: &Arg) -> R<Value> {
        match &arg.kind {
            ArgKind::Dot => {
                self.charge(dot, arg.pos)?;
                Ok(dot.clone())
            }
            ArgKind::Nil => Ok(Value::Null),
            ArgKind::Bool(b) => Ok(Value::Bool(*b)),
            ArgKind::Int(i) => Ok(Value::Int(*i)),
            ArgKind::Float(f) => Ok(Value::Float(*f)),
            ArgKind::Str(s) => Ok(Value::String(s.clone())),
            ArgKind::Field(chain) => {
                let v = fields(dot, chain, arg.pos)?;
                self.charge(&v, arg.pos)?;
                Ok(v)
            }
            ArgKind::Var(name, chain) => {
                let v = match self.vars.iter().rev().find(|(n, _)| n == name) {
                    Some((_, v)) => fields(v, chain, arg.pos)?,
                    None => {
                        return Err(PosError::new(
                            arg.pos,
                            format!("undefined variable: {name}"),
                        ));
                    }
                };
                self.charge(&v, arg.pos)?;
                Ok(v)
            }
            ArgKind::Func(name) => self.call(dot, arg.pos, name, &[], None),
            ArgKind::Pipe(pipe, chain) => {
                let v = self.pipeline(dot, pipe)?;
                fields(&v, chain, arg.pos)
            }
        }
    }
}

/// Follows `.a.b.c`: map keys. A missing key (or a field of a nil start)
/// gives nil, as Go's `<no value>`; a field of a nil that a map holds is an
/// error, as in Go (`nil pointer evaluating interface {}.x`).
fn fields(v: &Value, chain: &[String], pos: usize) -> R<Value> {
    let mut cur = v;
    for (i, f) in chain.iter().enumerate() {
        match cur {
            Value::Map(m) => match m.get(f) {
                Some(next) => cur = next,
                None => return Ok(Value::Null),
            },
            Value::Null if i == 0 => return Ok(Value::Null),
            Value::Null => {
                return Err(PosError::new(
                    pos,
                    format!("nil pointer evaluating interface {{}}.{f}"),
                ));
            }
            other => {
                return Err(PosError::new(
                    pos,
                    format!("can't evaluate field {f} in type {}", other.type_name()),
                ));
            }
        }
    }
    Ok(cur.clone())
}

fn describe(arg: &Arg) -> String {
    match &arg.kind {
        ArgKind::Dot => ".".into(),
        ArgKind::Nil => "nil".into(),
        ArgKind::Bool(b) => b.to_string(),
        ArgKind::Int(i) => i.to_string(),
        ArgKind::Float(f) => f.to_string(),
        ArgKind::Str(s) => format!("{s:?}"),
        ArgKind::Field(c) => format!(".{}", c.join(".")),
        ArgKind::Var(v, c) if c.is_empty() => v.clone(),
        ArgKind::Var(v, c) => format!("{v}.{}", c.join(".")),
        ArgKind::Func(f) => f.clone(),
        ArgKind::Pipe(..) => "(pipeline)".into(),
    }
}
