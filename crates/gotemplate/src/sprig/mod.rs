//! The sprig functions (<https://masterminds.github.io/sprig/>) that Rancher
//! catalog templates can call, with sprig's argument order and semantics.
//! Conversions, defaults and arithmetic live here; strings and lists in the
//! submodules.

mod lists;
mod strings;

use crate::funcs::{FnError, FnResult, Func, at_least, exact};
use crate::value::Value;

/// Lists built by a function may not be longer than this.
pub(crate) const MAX_LIST: usize = 1_000_000;
/// Strings built by a function may not be longer than this (16 MiB).
pub(crate) const MAX_STRING: usize = 16 * 1024 * 1024;

/// The sprig function called `name`.
pub(crate) fn lookup(name: &str) -> Option<Func> {
    let f: Func = match name {
        "default" => default,
        "empty" => |a| Ok(Value::Bool(empty(&exact(a, 1)?[0]))),
        "coalesce" => |a| Ok(a.iter().find(|v| !empty(v)).cloned().unwrap_or(Value::Null)),
        "ternary" => ternary,
        "toString" => |a| Ok(Value::String(strval(&exact(a, 1)?[0]))),
        "atoi" => atoi,
        "int" | "int64" => |a| Ok(Value::Int(to_int64(&exact(a, 1)?[0]))),
        "float64" => |a| Ok(Value::Float(to_float64(&exact(a, 1)?[0]))),
        "toJson" => |a| Ok(Value::String(to_json(&exact(a, 1)?[0]).to_string())),
        "toPrettyJson" => to_pretty_json,
        "add" => |a| {
            Ok(Value::Int(
                a.iter().map(to_int64).fold(0i64, i64::wrapping_add),
            ))
        },
        "add1" => |a| Ok(Value::Int(to_int64(&exact(a, 1)?[0]).wrapping_add(1))),
        "sub" => |a| arith2(a, |x, y| Some(x.wrapping_sub(y))),
        "div" => |a| arith2(a, i64::checked_div),
        "mod" => |a| arith2(a, i64::checked_rem),
        "mul" => |a| {
            Ok(Value::Int(
                at_least(a, 1)?
                    .iter()
                    .map(to_int64)
                    .fold(1i64, i64::wrapping_mul),
            ))
        },
        "max" => |a| {
            Ok(Value::Int(
                at_least(a, 1)?.iter().map(to_int64).max().unwrap_or(0),
            ))
        },
        "min" => |a| {
            Ok(Value::Int(
                at_least(a, 1)?.iter().map(to_int64).min().unwrap_or(0),
            ))
        },
        _ => return strings::lookup(name).or_else(|| lists::lookup(name)),
    };
    Some(f)
}

/// sprig's `empty`: nil, false, 0, "" and empty lists and maps.
pub(crate) fn empty(v: &Value) -> bool {
    !v.truthy()
}

/// sprig's `strval`: strings as they are, anything else as `%v`.
pub(crate) fn strval(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// sprig's `toInt64` (spf13/cast): strings parsed with Go's base prefixes
/// (`0x`, `0o`, leading `0` for octal), anything unparsable is 0.
pub(crate) fn to_int64(v: &Value) -> i64 {
    match v {
        Value::Int(i) => *i,
        Value::Float(f) => *f as i64,
        Value::Bool(b) => i64::from(*b),
        Value::String(s) => parse_int_base0(trim_zero_decimal(s)).unwrap_or(0),
        _ => 0,
    }
}

fn trim_zero_decimal(s: &str) -> &str {
    match s.split_once('.') {
        Some((int, frac))
            if !int.is_empty() && !frac.is_empty() && frac.bytes().all(|b| b == b'0') =>
        {
            int
        }
        _ => s,
    }
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn parse_int_base0(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d.to_string())
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d.to_string())
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower[1..].to_string())
    } else {
        (10, lower.clone())
    };
    if radix == 10 && digits.contains('_') {
        return None;
    }
    let digits = digits.replace('_', "");
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let n = i64::from_str_radix(&digits, radix).ok()?;
    Some(if neg { -n } else { n })
}

fn to_float64(v: &Value) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::Float(f) => *f,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::String(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// `default DEFAULT GIVEN`: GIVEN unless it is empty (or absent).
fn default(args: &[Value]) -> FnResult {
    let args = at_least(args, 1)?;
    match args.get(1) {
        Some(given) if !empty(given) => Ok(given.clone()),
        _ => Ok(args[0].clone()),
    }
}

/// `ternary IF_TRUE IF_FALSE CONDITION`.
fn ternary(args: &[Value]) -> FnResult {
    let args = exact(args, 3)?;
    match &args[2] {
        Value::Bool(b) => Ok(if *b { args[0].clone() } else { args[1].clone() }),
        other => Err(crate::funcs::wrong_type("bool", other)),
    }
}

/// `atoi STRING`: base 10, 0 when it does not parse.
fn atoi(args: &[Value]) -> FnResult {
    let s = crate::funcs::str_arg(&exact(args, 1)?[0])?;
    Ok(Value::Int(s.parse::<i64>().unwrap_or(0)))
}

fn arith2(args: &[Value], op: fn(i64, i64) -> Option<i64>) -> FnResult {
    let args = exact(args, 2)?;
    op(to_int64(&args[0]), to_int64(&args[1]))
        .map(Value::Int)
        .ok_or_else(|| FnError::Call("runtime error: integer divide by zero".into()))
}

fn to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::List(l) => serde_json::Value::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => {
            serde_json::Value::Object(m.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}

fn to_pretty_json(args: &[Value]) -> FnResult {
    let j = to_json(&exact(args, 1)?[0]);
    serde_json::to_string_pretty(&j)
        .map(Value::String)
        .map_err(|e| FnError::Call(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn call(name: &str, args: &[Value]) -> FnResult {
        crate::funcs::lookup(name).map_or(Err(FnError::Call(format!("no {name}"))), |f| f(args))
    }

    #[test]
    fn default_takes_the_default_first() {
        assert_eq!(call("default", &["d".into(), "".into()]), Ok("d".into()));
        assert_eq!(call("default", &["d".into(), "x".into()]), Ok("x".into()));
        assert_eq!(call("default", &["d".into()]), Ok("d".into()));
        assert_eq!(call("default", &[1.into(), 0.into()]), Ok(1.into()));
    }

    #[test]
    fn conversions_follow_sprig() {
        assert_eq!(call("atoi", &["42".into()]), Ok(42.into()));
        assert_eq!(call("atoi", &["4x".into()]), Ok(0.into()));
        assert!(call("atoi", &[4.into()]).is_err());
        assert_eq!(call("int", &["0x10".into()]), Ok(16.into()));
        assert_eq!(call("int", &["010".into()]), Ok(8.into()));
        assert_eq!(call("int", &["7.0".into()]), Ok(7.into()));
        assert_eq!(call("int", &["nope".into()]), Ok(0.into()));
        assert_eq!(call("toString", &[5.into()]), Ok("5".into()));
        assert_eq!(call("float64", &["1.5".into()]), Ok(1.5.into()));
    }

    #[test]
    fn arithmetic_converts_and_refuses_division_by_zero() {
        assert_eq!(call("add", &[1.into(), "2".into(), 3.into()]), Ok(6.into()));
        assert_eq!(call("sub", &[5.into(), 7.into()]), Ok((-2).into()));
        assert_eq!(call("mul", &[2.into(), 3.into(), 4.into()]), Ok(24.into()));
        assert_eq!(call("div", &[7.into(), 2.into()]), Ok(3.into()));
        assert!(call("div", &[7.into(), 0.into()]).is_err());
        assert!(call("mod", &[7.into(), 0.into()]).is_err());
        assert_eq!(call("max", &[1.into(), 9.into(), 3.into()]), Ok(9.into()));
        assert_eq!(call("add1", &[1.into()]), Ok(2.into()));
    }

    #[test]
    fn empty_coalesce_ternary_and_json() {
        assert_eq!(call("empty", &[Value::List(vec![])]), Ok(true.into()));
        assert_eq!(
            call("coalesce", &["".into(), Value::Null, "x".into()]),
            Ok("x".into())
        );
        assert_eq!(
            call("ternary", &["a".into(), "b".into(), false.into()]),
            Ok("b".into())
        );
        assert_eq!(
            call("toJson", &[Value::map([("a", vec![1, 2])])]),
            Ok("{\"a\":[1,2]}".into())
        );
    }
}
