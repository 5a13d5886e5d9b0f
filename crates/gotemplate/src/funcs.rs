//! Go's built-in template functions (comparison, `len`, `index`, the print
//! family, escapers) and the argument helpers the sprig functions share.

use std::cmp::Ordering;

use crate::printf::{sprint, sprintf, sprintln};
use crate::sprig;
use crate::value::Value;

/// Why a function call failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FnError {
    /// The wrong number of arguments: "want N got M".
    Arity(String),
    /// An argument of the wrong type (reported without "error calling").
    Arg(String),
    /// The function itself failed (reported as "error calling NAME: ...").
    Call(String),
}

pub(crate) type FnResult = Result<Value, FnError>;
pub(crate) type Func = fn(&[Value]) -> FnResult;

/// Whether `name` is a function (including `and` and `or`, which the
/// evaluator handles itself to short-circuit).
pub(crate) fn exists(name: &str) -> bool {
    name == "and" || name == "or" || lookup(name).is_some()
}

/// The function called `name`, Go built-ins first, then sprig.
pub(crate) fn lookup(name: &str) -> Option<Func> {
    let f: Func = match name {
        "eq" => eq,
        "ne" => |a| Ok(Value::Bool(!compare_eq(exact(a, 2)?)?)),
        "lt" => |a| ordered(a, |o| o == Ordering::Less),
        "le" => |a| ordered(a, |o| o != Ordering::Greater),
        "gt" => |a| ordered(a, |o| o == Ordering::Greater),
        "ge" => |a| ordered(a, |o| o != Ordering::Less),
        "not" => |a| Ok(Value::Bool(!exact(a, 1)?[0].truthy())),
        "len" => len,
        "index" => index,
        "slice" => slice,
        "print" => |a| Ok(Value::String(sprint(a))),
        "println" => |a| Ok(Value::String(sprintln(a))),
        "printf" => printf,
        "html" => |a| Ok(Value::String(html_escape(&joined(a)))),
        "js" => |a| Ok(Value::String(js_escape(&joined(a)))),
        "urlquery" => |a| Ok(Value::String(query_escape(&joined(a)))),
        _ => return sprig::lookup(name),
    };
    Some(f)
}

/// Checks there are exactly `n` arguments.
pub(crate) fn exact(args: &[Value], n: usize) -> Result<&[Value], FnError> {
    if args.len() != n {
        return Err(FnError::Arity(format!("want {n} got {}", args.len())));
    }
    Ok(args)
}

/// Checks there are at least `n` arguments.
pub(crate) fn at_least(args: &[Value], n: usize) -> Result<&[Value], FnError> {
    if args.len() < n {
        return Err(FnError::Arity(format!(
            "want at least {n} got {}",
            args.len()
        )));
    }
    Ok(args)
}

/// A `string` parameter: Go's template refuses other types.
pub(crate) fn str_arg(v: &Value) -> Result<&str, FnError> {
    match v {
        Value::String(s) => Ok(s),
        other => Err(wrong_type("string", other)),
    }
}

/// An `int` parameter.
pub(crate) fn int_arg(v: &Value) -> Result<i64, FnError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(wrong_type("int", other)),
    }
}

pub(crate) fn wrong_type(want: &str, got: &Value) -> FnError {
    match got {
        Value::Null => FnError::Arg(format!("invalid value; expected {want}")),
        v => FnError::Arg(format!(
            "wrong type for value; expected {want}; got {}",
            v.type_name()
        )),
    }
}

fn eq(args: &[Value]) -> FnResult {
    if args.len() < 2 {
        return Err(FnError::Call("missing argument for comparison".into()));
    }
    for other in &args[1..] {
        if compare_eq(&[args[0].clone(), other.clone()])? {
            return Ok(Value::Bool(true));
        }
    }
    Ok(Value::Bool(false))
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Nil,
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Nil,
        Value::Bool(_) => Kind::Bool,
        Value::Int(_) => Kind::Int,
        Value::Float(_) => Kind::Float,
        Value::String(_) => Kind::Str,
        Value::List(_) | Value::Map(_) => Kind::Other,
    }
}

/// Go's `eq` on two values: nil equals only nil; values of different basic
/// kinds (an int and a string) cannot be compared; lists and maps neither.
fn compare_eq(args: &[Value]) -> Result<bool, FnError> {
    let (a, b) = (&args[0], &args[1]);
    let (ka, kb) = (kind(a), kind(b));
    if ka == Kind::Nil || kb == Kind::Nil {
        return Ok(ka == kb);
    }
    if ka != kb {
        return Err(FnError::Call("incompatible types for comparison".into()));
    }
    if ka == Kind::Other {
        return Err(FnError::Call(format!(
            "non-comparable type {}",
            a.type_name()
        )));
    }
    Ok(a == b)
}

fn ordered(args: &[Value], test: fn(Ordering) -> bool) -> FnResult {
    let args = exact(args, 2)?;
    let (a, b) = (&args[0], &args[1]);
    let (ka, kb) = (kind(a), kind(b));
    if matches!(ka, Kind::Nil | Kind::Bool | Kind::Other)
        || matches!(kb, Kind::Nil | Kind::Bool | Kind::Other)
    {
        return Err(FnError::Call("invalid type for comparison".into()));
    }
    let ord = match (a, b) {
        (Value::Int(x), Value::Int(y)) => x.cmp(y),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        _ => return Err(FnError::Call("incompatible types for comparison".into())),
    };
    Ok(Value::Bool(test(ord)))
}

fn len(args: &[Value]) -> FnResult {
    let n = match &exact(args, 1)?[0] {
        Value::String(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Map(m) => m.len(),
        other => return Err(FnError::Call(format!("len of type {}", other.type_name()))),
    };
    Ok(Value::Int(n as i64))
}

fn index(args: &[Value]) -> FnResult {
    let mut cur = at_least(args, 1)?[0].clone();
    if cur == Value::Null {
        return Err(FnError::Call("index of untyped nil".into()));
    }
    for idx in &args[1..] {
        cur = match (&cur, idx) {
            (Value::Null, _) => return Err(FnError::Call("index of untyped nil".into())),
            (Value::List(l), Value::Int(i)) => {
                match usize::try_from(*i).ok().and_then(|i| l.get(i)) {
                    Some(v) => v.clone(),
                    None => return Err(FnError::Call(format!("index out of range: {i}"))),
                }
            }
            (Value::String(s), Value::Int(i)) => {
                match usize::try_from(*i).ok().and_then(|i| s.as_bytes().get(i)) {
                    Some(b) => Value::Int(i64::from(*b)),
                    None => return Err(FnError::Call(format!("index out of range: {i}"))),
                }
            }
            (Value::List(_) | Value::String(_), other) => {
                return Err(FnError::Call(format!(
                    "cannot index slice/array with type {}",
                    other.type_name()
                )));
            }
            (Value::Map(m), Value::String(k)) => m.get(k).cloned().unwrap_or(Value::Null),
            (Value::Map(_), other) => {
                return Err(FnError::Call(format!(
                    "value has type {}; should be string",
                    other.type_name()
                )));
            }
            (other, _) => {
                return Err(FnError::Call(format!(
                    "can't index item of type {}",
                    other.type_name()
                )));
            }
        };
    }
    Ok(cur)
}

fn slice(args: &[Value]) -> FnResult {
    let args = at_least(args, 1)?;
    let len = match &args[0] {
        Value::String(s) => s.len(),
        Value::List(l) => l.len(),
        Value::Null => return Err(FnError::Call("slice of untyped nil".into())),
        other => {
            return Err(FnError::Call(format!(
                "can't slice item of type {}",
                other.type_name()
            )));
        }
    };
    if args.len() > 3 {
        return Err(FnError::Call(format!(
            "too many slice indexes: {}",
            args.len() - 1
        )));
    }
    let mut bounds = [0, len];
    for (i, a) in args[1..].iter().enumerate() {
        let v = usize::try_from(int_arg(a)?)
            .map_err(|_| FnError::Call("negative slice index".into()))?;
        bounds[i] = v;
    }
    let [from, to] = bounds;
    if from > to || to > len {
        return Err(FnError::Call(format!(
            "slice bounds out of range [{from}:{to}]"
        )));
    }
    match &args[0] {
        Value::String(s) => s
            .get(from..to)
            .map(|s| Value::String(s.to_string()))
            .ok_or_else(|| FnError::Call("slice splits a character".into())),
        Value::List(l) => Ok(Value::List(l[from..to].to_vec())),
        _ => Ok(Value::Null),
    }
}

fn printf(args: &[Value]) -> FnResult {
    let args = at_least(args, 1)?;
    let format = str_arg(&args[0])?;
    Ok(Value::String(sprintf(format, &args[1..])))
}

/// The escapers format their arguments as `print` does (one string argument
/// is used as it is).
fn joined(args: &[Value]) -> String {
    match args {
        [Value::String(s)] => s.clone(),
        _ => {
            let shown: Vec<Value> = args
                .iter()
                .map(|a| match a {
                    Value::Null => Value::String("<no value>".into()),
                    a => a.clone(),
                })
                .collect();
            sprint(&shown)
        }
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' | '>' | '&' | '=' => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c if c < ' ' => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: &[Value]) -> FnResult {
        lookup(name).map_or(Err(FnError::Call("missing".into())), |f| f(args))
    }

    #[test]
    fn eq_takes_many_arguments_and_refuses_int_against_string() {
        assert_eq!(
            call("eq", &["a".into(), "b".into(), "a".into()]),
            Ok(Value::Bool(true))
        );
        assert!(matches!(
            call("eq", &[1.into(), "1".into()]),
            Err(FnError::Call(_))
        ));
        assert_eq!(
            call("eq", &[Value::Null, "x".into()]),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            call("ne", &[Value::Null, Value::Null]),
            Ok(Value::Bool(false))
        );
    }

    #[test]
    fn ordering_compares_ints_and_strings_but_not_bools() {
        assert_eq!(call("lt", &[1.into(), 2.into()]), Ok(Value::Bool(true)));
        assert_eq!(call("ge", &["b".into(), "a".into()]), Ok(Value::Bool(true)));
        assert!(call("lt", &[true.into(), false.into()]).is_err());
        assert!(call("lt", &[1.into(), 1.5.into()]).is_err());
    }

    #[test]
    fn index_reaches_into_lists_maps_and_strings() {
        let m = Value::map([("a", Value::from(vec![10, 20]))]);
        assert_eq!(
            call("index", &[m.clone(), "a".into(), 1.into()]),
            Ok(Value::Int(20))
        );
        assert_eq!(call("index", &[m.clone(), "zz".into()]), Ok(Value::Null));
        assert!(call("index", &[m, "a".into(), 5.into()]).is_err());
        assert_eq!(call("index", &["ab".into(), 1.into()]), Ok(Value::Int(98)));
    }

    #[test]
    fn slice_and_len_count_bytes_and_elements() {
        assert_eq!(
            call("slice", &["hello".into(), 1.into(), 3.into()]),
            Ok("el".into())
        );
        assert_eq!(call("len", &[Value::from(vec![1, 2])]), Ok(Value::Int(2)));
        assert!(call("len", &[3.into()]).is_err());
        assert!(call("slice", &["héllo".into(), 2.into()]).is_err());
    }

    #[test]
    fn escapers_match_go() {
        assert_eq!(
            html_escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;"
        );
        assert_eq!(js_escape("a'b<"), "a\\'b\\u003C");
        assert_eq!(query_escape("a b/c"), "a+b%2Fc");
        assert_eq!(call("html", &[Value::Null]), Ok("&lt;no value&gt;".into()));
    }
}
